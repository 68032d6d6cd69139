import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { Client } from 'pg';
import { EventPage, EventPatterns, newEvent } from '@platform/contracts';
import { EventPublisher, RpcClient } from '@platform/messaging';
import { createTestDatabase, isolatedEnv, PG_ADMIN_URL, startPeer, waitFor } from '@platform/testing';
import { httpUrl, startEventStore } from '../testing/harness';

describe('event store: the database goes down while events keep coming', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let store: INestApplication;
  let peer: INestApplication;
  let admin: Client;

  /** The service's view of an outage: its connections are cut and new ones are refused. */
  const takeDatabaseDown = async () => {
    await admin.query(`ALTER DATABASE "${db.name}" WITH ALLOW_CONNECTIONS false`);
    await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()', [db.name]);
  };
  const bringDatabaseBack = () => admin.query(`ALTER DATABASE "${db.name}" WITH ALLOW_CONNECTIONS true`);
  const readiness = async () => {
    const res = await fetch(`${await httpUrl(store)}/readyz`);
    return { status: res.status, body: (await res.json()) as { checks: Record<string, string> } };
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'fatal' });
    admin = new Client({ connectionString: PG_ADMIN_URL });
    await admin.connect();
    store = await startEventStore(iso.env);
    peer = await startPeer(iso.env);
  });

  afterAll(async () => {
    await bringDatabaseBack().catch(() => undefined);
    await peer?.close();
    await store?.close();
    await admin?.end();
    await db?.drop();
    iso?.cleanup();
  });

  it('is ready while its database, broker and ingestion work', async () => {
    await expect(readiness()).resolves.toEqual({
      status: 200,
      body: { status: 'ok', service: 'event-store', checks: { database: 'ok', broker: 'ok', ingest: 'ok' } },
    });
  });

  it('stores every event published during the outage once the database is back, none twice', async () => {
    const fn = randomUUID();
    const publisher = peer.get(EventPublisher);
    const before = newEvent({ name: 'invocation.succeeded', type: 'FUNCTION_INVOCATION', status: 'SUCCESS', source: 'invoker', functionId: fn });
    await publisher.publish(before);
    const rpc = peer.get(RpcClient);
    const total = async () => (await rpc.call<EventPage>('event-store', EventPatterns.Query, { functionId: fn, limit: 500 })).total;
    await waitFor(async () => (await total()) === 1, { what: 'the event from before the outage' });

    await takeDatabaseDown();
    const during = Array.from({ length: 40 }, (_, i) =>
      newEvent({ name: 'invocation.succeeded', type: 'FUNCTION_INVOCATION', status: 'SUCCESS', source: 'invoker', functionId: fn, payload: { i } }),
    );
    await Promise.all(during.map((e) => publisher.publish(e)));
    // Readiness shows the outage and that storing the batch failed (so it is being retried).
    const down = await waitFor(
      async () => {
        const r = await readiness();
        return r.status === 503 && r.body.checks.ingest.startsWith('failing: storing events fails') ? r : null;
      },
      { what: 'readiness to report the failing batch', timeoutMs: 20_000 },
    );
    expect(down.body.checks.database).toMatch(/^failing: /);
    expect(down.body.checks.broker).toBe('ok');
    await expect(rpc.call('event-store', EventPatterns.Query, { functionId: fn })).rejects.toMatchObject({
      statusCode: 503,
      message: expect.stringMatching(/^the event database is unavailable /),
    });

    await bringDatabaseBack();
    await waitFor(async () => (await total()) === 41, { what: 'all 41 events stored', timeoutMs: 20_000 });
    const { items } = await rpc.call<EventPage>('event-store', EventPatterns.Query, { functionId: fn, limit: 500, order: 'asc' });
    expect(items.map((e) => e.id).sort()).toEqual([before, ...during].map((e) => e.id).sort());
    await waitFor(async () => (await readiness()).status === 200, { what: 'ready again' });
  }, 60_000);
});
