import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateBuilds1764000000000 implements MigrationInterface {
  name = 'CreateBuilds1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "builder"."builds" (
        "id" text PRIMARY KEY,
        "function_id" uuid NOT NULL,
        "label" text NOT NULL,
        "version" int NOT NULL,
        "status" text NOT NULL CHECK ("status" IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
        "template" text NOT NULL,
        "runtime" text NOT NULL,
        "entrypoint" text NOT NULL,
        "bundle_digest" text,
        "bundle_size" bigint,
        "image" text,
        "image_digest" text,
        "input_digest" text,
        "cached" boolean NOT NULL DEFAULT false,
        "error" text,
        "log" text NOT NULL DEFAULT '',
        "started_at" timestamptz,
        "finished_at" timestamptz,
        "created_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX "builds_function_created" ON "builder"."builds" ("function_id", "created_at" DESC)`);
    await q.query(`CREATE INDEX "builds_label_created" ON "builder"."builds" ("label", "created_at" DESC)`);
    // Finds a previous successful build with the same inputs (build cache).
    await q.query(`CREATE INDEX "builds_succeeded_input" ON "builder"."builds" ("input_digest", "finished_at" DESC) WHERE "status" = 'SUCCEEDED'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "builder"."builds"`);
  }
}
