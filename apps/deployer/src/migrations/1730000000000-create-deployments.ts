import { MigrationInterface, QueryRunner } from 'typeorm';

export class CreateDeployments1730000000000 implements MigrationInterface {
  name = 'CreateDeployments1730000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "deployer"."deployments" (
        "id" uuid PRIMARY KEY,
        "function_id" uuid NOT NULL,
        "label" text NOT NULL,
        "version" integer NOT NULL,
        "driver" text NOT NULL CHECK ("driver" IN ('local', 'knative')),
        "status" text NOT NULL CHECK ("status" IN ('DEPLOYING', 'READY', 'FAILED', 'DELETED')),
        "bundle_digest" text NOT NULL,
        "image" text,
        "url" text,
        "reason" text,
        "spec" jsonb NOT NULL,
        "env" jsonb,
        "created_at" timestamptz NOT NULL DEFAULT now(),
        "updated_at" timestamptz NOT NULL DEFAULT now()
      )`);
    // One current (not DELETED) deployment per function.
    await q.query(`CREATE UNIQUE INDEX "deployments_current_per_function" ON "deployer"."deployments" ("function_id") WHERE "status" <> 'DELETED'`);
    await q.query(`CREATE INDEX "deployments_label" ON "deployer"."deployments" ("label") WHERE "status" <> 'DELETED'`);
    await q.query(`CREATE INDEX "deployments_status_driver" ON "deployer"."deployments" ("status", "driver")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "deployer"."deployments"`);
  }
}
