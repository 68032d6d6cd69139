import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateRegistry1732500000000 implements MigrationInterface {
  name = 'CreateRegistry1732500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "registry"."functions" (
        "id" uuid PRIMARY KEY,
        "label" text NOT NULL,
        "description" text,
        "template" text NOT NULL,
        "runtime" text NOT NULL,
        "family" text NOT NULL CHECK ("family" IN ('node', 'python')),
        "handler" text,
        "files" jsonb,
        "entrypoint" text NOT NULL,
        "config" jsonb NOT NULL DEFAULT '{}',
        "status" text NOT NULL CHECK ("status" IN ('CREATED', 'BUILDING', 'BUILT', 'DEPLOYING', 'READY', 'FAILED')),
        "status_reason" text,
        "version" integer NOT NULL,
        "build_id" uuid,
        "build_version" integer,
        "build_status" text CHECK ("build_status" IN ('QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED')),
        "build_error" text,
        "build_requested_at" timestamptz,
        "build_started_at" timestamptz,
        "build_finished_at" timestamptz,
        "bundle_digest" text,
        "image" text,
        "built_version" integer,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT "functions_label_unique" UNIQUE ("label"),
        CONSTRAINT "functions_code_present" CHECK ("handler" IS NOT NULL OR "files" IS NOT NULL)
      )`);
    await q.query(`CREATE INDEX "functions_created_at" ON "registry"."functions" ("created_at" DESC)`);
    await q.query(`
      CREATE TABLE "registry"."function_versions" (
        "function_id" uuid NOT NULL REFERENCES "registry"."functions" ("id") ON DELETE CASCADE,
        "version" integer NOT NULL,
        "template" text NOT NULL,
        "runtime" text NOT NULL,
        "handler" text,
        "files" jsonb,
        "entrypoint" text NOT NULL,
        "config" jsonb NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("function_id", "version")
      )`);
    await q.query(`
      CREATE TABLE "registry"."secrets" (
        "name" text PRIMARY KEY,
        "keys" jsonb NOT NULL,
        "values" jsonb NOT NULL,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "registry"."secrets"`);
    await q.query(`DROP TABLE "registry"."function_versions"`);
    await q.query(`DROP TABLE "registry"."functions"`);
  }
}
