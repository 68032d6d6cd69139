import { MigrationInterface, QueryRunner } from 'typeorm';

/** Asynchronous invocations (the record of truth; the quorum queue only carries their ids) and the callback signing key. */
export class CreateInvocations1767000000000 implements MigrationInterface {
  name = 'CreateInvocations1767000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "deployer"."invocations" (
        "id" uuid PRIMARY KEY,
        "function_id" uuid NOT NULL,
        "label" text NOT NULL,
        "status" text NOT NULL CHECK ("status" IN ('queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled')),
        "source" text NOT NULL,
        "version" integer,
        "pinned_version" integer,
        "max_attempts" integer NOT NULL,
        "retry" jsonb NOT NULL,
        "attempts" integer NOT NULL DEFAULT 0,
        "attempt_log" jsonb NOT NULL DEFAULT '[]'::jsonb,
        "request" jsonb NOT NULL,
        "request_sha256" text NOT NULL,
        "callback_url" text,
        "callback_status" text CHECK ("callback_status" IN ('pending', 'delivered', 'failed')),
        "callback_attempts" integer NOT NULL DEFAULT 0,
        "callback_last_error" text,
        "callback_delivered_at" timestamptz,
        "callback_due_at" timestamptz,
        "idempotency_key" text,
        "replay_of" uuid,
        "result" jsonb,
        "error" text,
        "due_at" timestamptz NOT NULL,
        "dispatched_at" timestamptz,
        "owner" text,
        "lease_until" timestamptz,
        "accepted_at" timestamptz(3) NOT NULL,
        "finished_at" timestamptz
      )`);
    await q.query(
      `CREATE UNIQUE INDEX "invocations_idempotency" ON "deployer"."invocations" ("function_id", "idempotency_key") WHERE "idempotency_key" IS NOT NULL`,
    );
    // What the pump and the claim look for: queued rows that are due.
    await q.query(`CREATE INDEX "invocations_status_due" ON "deployer"."invocations" ("status", "due_at")`);
    // Listing (newest first, keyset on accepted_at, id) and the per-function queue bound.
    await q.query(`CREATE INDEX "invocations_function_accepted" ON "deployer"."invocations" ("function_id", "accepted_at" DESC, "id" DESC)`);
    await q.query(`CREATE INDEX "invocations_accepted" ON "deployer"."invocations" ("accepted_at" DESC, "id" DESC)`);
    // The per-function queue bound (scaling.asyncQueueSize), counted from the index alone.
    await q.query(`CREATE INDEX "invocations_function_pending" ON "deployer"."invocations" ("function_id") WHERE "status" IN ('queued', 'running')`);
    // Retention: finished rows leave oldest first.
    await q.query(`CREATE INDEX "invocations_finished" ON "deployer"."invocations" ("finished_at") WHERE "finished_at" IS NOT NULL`);
    await q.query(`CREATE INDEX "invocations_lease" ON "deployer"."invocations" ("lease_until") WHERE "status" = 'running'`);
    await q.query(`CREATE INDEX "invocations_callback_due" ON "deployer"."invocations" ("callback_due_at") WHERE "callback_status" = 'pending'`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "deployer"."invocations"`);
  }
}
