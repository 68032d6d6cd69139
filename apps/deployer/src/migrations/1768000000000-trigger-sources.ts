import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Event sources: the trigger an asynchronous invocation came from (its result and error topics are published with
 * it), and a small store of each trigger's own state (an S3 poller's watermark), shared by the deployer replicas.
 */
export class TriggerSources1768000000000 implements MigrationInterface {
  name = 'TriggerSources1768000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE "deployer"."invocations" ADD COLUMN IF NOT EXISTS "trigger" jsonb`);
    await q.query(`
      CREATE TABLE IF NOT EXISTS "deployer"."source_state" (
        "function_id" uuid NOT NULL,
        "trigger_key" text NOT NULL,
        "key" text NOT NULL,
        "value" jsonb NOT NULL,
        "updated_at" timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY ("function_id", "trigger_key", "key")
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE IF EXISTS "deployer"."source_state"`);
    await q.query(`ALTER TABLE "deployer"."invocations" DROP COLUMN IF EXISTS "trigger"`);
  }
}
