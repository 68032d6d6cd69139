import { INestApplication } from '@nestjs/common';
import * as amqplib from 'amqplib';
import { randomUUID } from 'crypto';
import { Client } from 'pg';
import { CLOUDEVENT_CONTENT_TYPE, EventPage, EventPatterns, eventExchange, newEvent, PlatformEvent, toCloudEvent } from '@platform/contracts';
import { EventPublisher, RpcClient } from '@platform/messaging';
import { createTestDatabase, isolatedEnv, startPeer, waitFor } from '@platform/testing';
import { admitEvent, EventRow } from '../storage/event-row';
import { EventWriter } from '../storage/event-writer';
import { startEventStore } from '../testing/harness';

const result = (functionId: string, extra: Partial<PlatformEvent> = {}) =>
  newEvent({
    name: 'invocation.succeeded',
    type: 'FUNCTION_INVOCATION',
    status: 'SUCCESS',
    source: 'invoker',
    functionId,
    invocationId: randomUUID(),
    ...extra,
  });

describe('event store: storing what is published on the exchange', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let store: INestApplication;
  let peer: INestApplication;
  let pg: Client;
  let publisher: EventPublisher;
  let rpc: RpcClient;

  const page = (query: Record<string, unknown>) => rpc.call<EventPage>('event-store', EventPatterns.Query, query);
  /** Publishes a marker and waits for it: everything published before it has been handled. */
  const settle = async () => {
    const marker = result(randomUUID());
    await publisher.publish(marker);
    await waitFor(async () => (await page({ functionId: marker.functionId! })).total === 1, { what: 'the marker event' });
  };

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'fatal' });
    store = await startEventStore(iso.env);
    peer = await startPeer(iso.env);
    publisher = peer.get(EventPublisher);
    rpc = peer.get(RpcClient);
    pg = new Client({ connectionString: db.url });
    await pg.connect();
  });

  afterAll(async () => {
    await pg?.end();
    await peer?.close();
    await store?.close();
    await db?.drop();
    iso?.cleanup();
  });

  it('stores an event published twice with the same id exactly once', async () => {
    const fn = randomUUID();
    const event = result(fn, { payload: { n: 1 } });
    await publisher.publish(event);
    await publisher.publish(event);
    await settle();
    await publisher.publish(event); // a redelivery long after the first copy was committed
    await settle();
    const stored = await page({ functionId: fn });
    expect(stored.total).toBe(1);
    expect(stored.items).toEqual([event]);
  });

  it('keeps every field as published, including payloads that are bare strings or numbers', async () => {
    const event = result(randomUUID(), {
      name: 'invocation.failed',
      status: 'FAILURE',
      payload: 'just a "string", with {braces}, \\backslashes\\ and NULL',
      response: 42,
      processingTimeMs: 1.25,
      error: 'TypeError: x is not a function\n    at {handler} "quoted"',
      metadata: { coldStart: true, startMs: 3, logs: 'line 1\nline 2\u0000' },
    });
    await publisher.publish(event);
    const stored = await waitFor(() => rpc.call<PlatformEvent>('event-store', EventPatterns.Get, { id: event.id }).catch(() => null), {
      what: 'the stored event',
    });
    expect(stored).toEqual({ ...event, metadata: { coldStart: true, startMs: 3, logs: 'line 1\nline 2\uFFFD' } });
  });

  it('keeps CloudEvents that can never be stored aside, with the reason, without holding up the events behind them', async () => {
    const conn = await amqplib.connect(iso.env.AMQP_URL);
    const ch = await conn.createConfirmChannel();
    const exchange = eventExchange(iso.env.HKS_NAMESPACE);
    const send = (body: string) => ch.publish(exchange, 'junk.thing._', Buffer.from(body), { persistent: true, contentType: CLOUDEVENT_CONTENT_TYPE });
    const valid = toCloudEvent(result(randomUUID()));
    send(JSON.stringify({ ...valid, id: 'order-42' }));
    send(JSON.stringify({ ...valid, functionid: 'abc' }));
    send(JSON.stringify({ ...valid, data: { ...valid.data, type: undefined } }));
    // Not CloudEvents at all: dead-lettered by the subscriber before they reach the store.
    send(JSON.stringify('not an object'));
    send(JSON.stringify([valid]));
    send(JSON.stringify(result(randomUUID())));
    send('{ this is not JSON');
    await ch.waitForConfirms();

    await settle();
    const { rows } = await pg.query('SELECT reason FROM events.rejected_events ORDER BY reason');
    expect(rows.map((r) => r.reason)).toEqual([
      'functionId must be a UUID or null',
      'the event id is not a UUID',
      'type must be a non-empty string of at most 200 characters',
    ]);
    await waitFor(async () => (await ch.checkQueue(`${exchange}.dead`)).messageCount === 4, { what: 'four dead-lettered messages' });
    await conn.close();
  });

  it('stores the rest of a batch when the database refuses one row, and keeps that row aside', async () => {
    // admitEvent keeps such rows out; this is the writer's safety net should one slip through.
    const fn = randomUUID();
    const row = (e: PlatformEvent) => (admitEvent(e) as { row: EventRow }).row;
    const good = row(result(fn));
    const refused = { ...row(result(fn)), payload: '{not json' };
    const stored = await store.get(EventWriter).store([good, refused]);
    expect(stored.inserted.map((r) => r.id)).toEqual([good.id]);
    expect(stored.rejected).toBe(1);
    expect((await page({ functionId: fn })).items.map((e) => e.id)).toEqual([good.id]);
    const { rows } = await pg.query('SELECT reason FROM events.rejected_events WHERE event_id = $1', [refused.id]);
    expect(rows).toEqual([{ reason: expect.stringMatching(/^the database refused it: invalid input syntax for type json/) }]);
  });

  it('stores a burst of events in batches of EVENT_STORE_BATCH_SIZE, each committed as one transaction', async () => {
    const batchIso = isolatedEnv({
      DATABASE_URL: db.url,
      LOG_LEVEL: iso.env.LOG_LEVEL,
      EVENT_STORE_BATCH_SIZE: '25',
      // Long enough for batches to form by size, short enough that a last partial one is stored soon.
      EVENT_STORE_BATCH_WAIT_MS: '1000',
    });
    const batchStore = await startEventStore(batchIso.env);
    const batchPeer = await startPeer(batchIso.env);
    try {
      const fn = randomUUID();
      const events = Array.from({ length: 50 }, () => result(fn));
      await Promise.all(events.map((e) => batchPeer.get(EventPublisher).publish(e)));
      await waitFor(async () => (await page({ functionId: fn, limit: 500 })).total === 50, { what: '50 stored events' });
      // Rows inserted by one transaction share its now(): one recorded_at per committed batch.
      const { rows } = await pg.query('SELECT count(*)::int AS n FROM events.events WHERE function_id = $1 GROUP BY recorded_at ORDER BY recorded_at', [fn]);
      const sizes: number[] = rows.map((r) => r.n);
      expect(sizes.reduce((a, b) => a + b, 0)).toBe(50);
      expect(Math.max(...sizes)).toBeLessThanOrEqual(25);
      // How many messages arrive per socket read varies; one transaction per event would be 50.
      expect(sizes.length).toBeLessThanOrEqual(10);
    } finally {
      await batchPeer.close();
      await batchStore.close();
      batchIso.cleanup();
    }
  });
});
