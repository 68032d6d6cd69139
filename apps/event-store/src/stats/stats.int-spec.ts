import { INestApplication } from '@nestjs/common';
import { randomUUID } from 'crypto';
import { EventPage, EventPatterns, InvocationStats, newEvent, PlatformEvent } from '@platform/contracts';
import { EventPublisher, RpcClient } from '@platform/messaging';
import { createTestDatabase, isolatedEnv, startPeer, waitFor } from '@platform/testing';
import { startEventStore } from '../testing/harness';

const FN = randomUUID();
const T0 = Date.parse('2026-01-31T12:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Ten invocation results of FN: durations 10..100 ms, failures #2, #5 and #8, cold starts #0, #4,
 * #7 and #9; six in the minute from T0, four in the next. The even ones ran long enough to have a
 * PENDING event too (marked a cold start, which must not count); another function has results of its own.
 * #0 to #6 ran version 1, #7 to #9 version 2.
 */
function knownSet(): PlatformEvent[] {
  const events: PlatformEvent[] = [];
  for (let i = 0; i < 10; i++) {
    const timestamp = iso(i < 6 ? T0 + i * 5_000 : T0 + 60_000 + (i - 6) * 5_000);
    const invocationId = randomUUID();
    const failed = [2, 5, 8].includes(i);
    const common = { type: 'FUNCTION_INVOCATION' as const, source: 'invoker', functionId: FN, invocationId, timestamp };
    if (i % 2 === 0) events.push(newEvent({ ...common, name: 'invocation.pending', status: 'PENDING', metadata: { trigger: 'api', coldStart: true } }));
    events.push(
      newEvent({
        ...common,
        name: failed ? 'invocation.failed' : 'invocation.succeeded',
        status: failed ? 'FAILURE' : 'SUCCESS',
        processingTimeMs: (i + 1) * 10,
        error: failed ? 'Error: boom' : null,
        metadata: { coldStart: [0, 4, 7, 9].includes(i), startMs: 1, version: i < 7 ? 1 : 2 },
      }),
    );
  }
  for (let i = 0; i < 3; i++) {
    events.push(
      newEvent({
        name: 'invocation.failed',
        type: 'FUNCTION_INVOCATION',
        status: 'FAILURE',
        source: 'invoker',
        functionId: randomUUID(),
        processingTimeMs: 5_000,
        timestamp: iso(T0),
      }),
    );
  }
  return events;
}

describe('event store RPC: invocation stats', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let env: ReturnType<typeof isolatedEnv>;
  let store: INestApplication;
  let peer: INestApplication;
  let rpc: RpcClient;
  const stats = (q: Record<string, unknown>) => rpc.call<InvocationStats>('event-store', EventPatterns.Stats, q);

  beforeAll(async () => {
    db = await createTestDatabase();
    env = isolatedEnv({ DATABASE_URL: db.url });
    store = await startEventStore(env.env);
    peer = await startPeer(env.env);
    rpc = peer.get(RpcClient);
    const events = knownSet();
    await Promise.all(events.map((e) => peer.get(EventPublisher).publish(e)));
    await waitFor(async () => (await rpc.call<EventPage>('event-store', EventPatterns.Query, { limit: 1 })).total === events.length, {
      what: 'the known set stored',
    });
  });

  afterAll(async () => {
    await peer?.close();
    await store?.close();
    await db?.drop();
    env?.cleanup();
  });

  it('counts results, failures and cold starts, and computes duration percentiles', async () => {
    await expect(stats({ functionId: FN })).resolves.toEqual({
      functionId: FN,
      from: null,
      to: null,
      invocations: 10,
      successes: 7,
      failures: 3,
      errorRate: 0.3,
      coldStarts: 4,
      // percentile_cont interpolates: p90 of 10..100 lies between the 9th and 10th values.
      durationMs: { p50: 55, p90: 91, p95: 95.5, p99: 99.1, avg: 55, max: 100 },
    });
  });

  it('limits the figures to the time range', async () => {
    const s = await stats({ functionId: FN, from: iso(T0 + 60_000), to: iso(T0 + 120_000) });
    expect(s).toMatchObject({ from: iso(T0 + 60_000), to: iso(T0 + 120_000), invocations: 4, failures: 1, coldStarts: 2 });
    expect(s.durationMs).toMatchObject({ p50: 85, max: 100 });
  });

  it('gives a time series per bucket, empty buckets included', async () => {
    const s = await stats({ functionId: FN, from: iso(T0), to: iso(T0 + 180_000), bucketSeconds: '60' });
    expect(s.series).toEqual([
      { start: iso(T0), invocations: 6, failures: 2, p50: 35, p95: 57.5 },
      { start: iso(T0 + 60_000), invocations: 4, failures: 1, p50: 85, p95: 98.5 },
      { start: iso(T0 + 120_000), invocations: 0, failures: 0, p50: null, p95: null },
    ]);
    expect(s.invocations).toBe(10);
  });

  it("gives each version's figures side by side with by=version, and one version's with version=N", async () => {
    const s = await stats({ functionId: FN, by: 'version' });
    expect(s.invocations).toBe(10);
    expect(s.versions).toEqual([
      { version: 2, invocations: 3, successes: 2, failures: 1, errorRate: 1 / 3, coldStarts: 2, durationMs: expect.objectContaining({ p50: 90, max: 100 }) },
      { version: 1, invocations: 7, successes: 5, failures: 2, errorRate: 2 / 7, coldStarts: 2, durationMs: expect.objectContaining({ p50: 40, max: 70 }) },
    ]);
    const v1 = await stats({ functionId: FN, version: 1 });
    expect(v1).toMatchObject({ invocations: 7, failures: 2 });
    expect(v1.versions).toBeUndefined();
    await expect(stats({ functionId: FN, by: 'label' })).rejects.toMatchObject({ statusCode: 400, message: 'by must be "version" (or left out)' });
  });

  it('answers zeros for a function without invocations', async () => {
    const other = randomUUID();
    await expect(stats({ functionId: other, bucketSeconds: 60 })).resolves.toEqual({
      functionId: other,
      from: null,
      to: null,
      invocations: 0,
      successes: 0,
      failures: 0,
      errorRate: 0,
      coldStarts: 0,
      durationMs: { p50: null, p90: null, p95: null, p99: null, avg: null, max: null },
      series: [],
    });
  });

  it('answers 400 naming the field when the query is wrong', async () => {
    await expect(stats({})).rejects.toMatchObject({ statusCode: 400, message: 'functionId is required' });
    await expect(stats({ functionId: FN, bucketSeconds: 0 })).rejects.toMatchObject({
      statusCode: 400,
      message: 'bucketSeconds must be a whole number of seconds from 1 to 31536000',
    });
    await expect(stats({ functionId: FN, from: iso(T0), to: iso(T0 + 86_400_000), bucketSeconds: 1 })).rejects.toMatchObject({
      statusCode: 400,
      message: expect.stringMatching(/^bucketSeconds=1 makes 86400 buckets/),
    });
  });
});
