import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * A deployment runs several versions of its function: its own (alias latest) and those an alias or a traffic split
 * names, with the routing between them, a canary's progress, and when it first served (for rollback).
 */
export class DeploymentVersions1769000000000 implements MigrationInterface {
  name = 'DeploymentVersions1769000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      ALTER TABLE "deployer"."deployments"
        ADD COLUMN IF NOT EXISTS "versions" jsonb NOT NULL DEFAULT '[]',
        ADD COLUMN IF NOT EXISTS "routing" jsonb NOT NULL DEFAULT '{"aliases":{},"splits":null,"sticky":false,"revision":0}',
        ADD COLUMN IF NOT EXISTS "canary" jsonb,
        ADD COLUMN IF NOT EXISTS "served_at" timestamptz`);
    // Deployments that were READY before this migration served; the current ones did too.
    await q.query(`UPDATE "deployer"."deployments" SET "served_at" = "updated_at" WHERE "status" = 'READY' AND "served_at" IS NULL`);
    await q.query(
      `CREATE INDEX IF NOT EXISTS "deployments_served" ON "deployer"."deployments" ("function_id", "served_at" DESC) WHERE "served_at" IS NOT NULL`,
    );
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX IF EXISTS "deployer"."deployments_served"`);
    await q.query(`
      ALTER TABLE "deployer"."deployments"
        DROP COLUMN IF EXISTS "versions", DROP COLUMN IF EXISTS "routing", DROP COLUMN IF EXISTS "canary", DROP COLUMN IF EXISTS "served_at"`);
  }
}
