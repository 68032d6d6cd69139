import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The event log. `id` is the publisher's event id and the idempotency key: a redelivered or
 * replayed event hits ON CONFLICT (id) DO NOTHING. Indexes follow the queries the store answers:
 * a function's events by time (also the stats), by type/status by time, an invocation's pair,
 * and everything by time. `id` rides along as the tie-breaker of the paging order.
 */
export class CreateEvents1732406400000 implements MigrationInterface {
  name = 'CreateEvents1732406400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE "events"."events" (
        "id" uuid PRIMARY KEY,
        "name" text NOT NULL,
        "type" text NOT NULL,
        "status" text NOT NULL CHECK ("status" IN ('PENDING', 'SUCCESS', 'FAILURE')),
        "timestamp" timestamptz NOT NULL,
        "source" text NOT NULL,
        "function_id" uuid NULL,
        "invocation_id" uuid NULL,
        "payload" jsonb NULL,
        "response" jsonb NULL,
        "processing_time_ms" double precision NULL,
        "error" text NULL,
        "metadata" jsonb NULL,
        "recorded_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX "events_function_time_idx" ON "events"."events" ("function_id", "timestamp", "id") WHERE "function_id" IS NOT NULL`);
    await q.query(`CREATE INDEX "events_type_time_idx" ON "events"."events" ("type", "timestamp", "id")`);
    await q.query(`CREATE INDEX "events_status_time_idx" ON "events"."events" ("status", "timestamp", "id")`);
    await q.query(`CREATE INDEX "events_invocation_idx" ON "events"."events" ("invocation_id") WHERE "invocation_id" IS NOT NULL`);
    await q.query(`CREATE INDEX "events_time_idx" ON "events"."events" ("timestamp", "id")`);

    // Messages that can never become an event row (not an object, no uuid id, ...). Kept with the
    // reason instead of blocking the queue; keyed by the digest of the body so a redelivery is kept once.
    await q.query(`
      CREATE TABLE "events"."rejected_events" (
        "digest" text PRIMARY KEY,
        "event_id" text NULL,
        "reason" text NOT NULL,
        "body" text NOT NULL,
        "received_at" timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX "rejected_events_received_idx" ON "events"."rejected_events" ("received_at")`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE "events"."rejected_events"`);
    await q.query(`DROP TABLE "events"."events"`);
  }
}
