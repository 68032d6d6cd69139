import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { DeploymentTable } from '../deployments/deployment-table';
import { InvokerHarness, startInvoker } from '../testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };
/** Far above a warm call of a trivial function, far below the slow call. */
const THRESHOLD_MS = 1_500;
const SLOW_MS = 2_500;

describe('invoker: one event per invocation, a PENDING event only for one still running after INVOKER_PENDING_EVENT_AFTER_MS', () => {
  let inv: InvokerHarness;

  beforeAll(async () => {
    inv = await startInvoker({ INVOKER_PENDING_EVENT_AFTER_MS: String(THRESHOLD_MS) });
    await inv.deploy({
      label: 'sleepy',
      family: 'node',
      entrypoint: 'handler.handle',
      files: { 'handler.js': 'module.exports.handle = (d) => new Promise((r) => setTimeout(() => r({ slept: d.ms }), Number(d.ms)));' },
      config: { resources: { timeoutMs: 30_000 } },
    });
    // Warm: the calls below do not pay a cold start.
    expect((await inv.request('POST', '/invoke/sleepy', JSON.stringify({ data: { ms: 0 } }), JSON_HEADERS)).status).toBe(200);
  }, 90_000);

  afterAll(async () => {
    await inv?.close();
  });

  /** The events of one invocation that the journal wrote (segments in order, acked lines skipped). */
  function journaled(invocationId: string): Array<{ status: string }> {
    const dir = path.join(inv.dataDir, 'wal');
    const lines = readdirSync(dir)
      .flatMap((d) =>
        readdirSync(path.join(dir, d))
          .filter((f) => f.endsWith('.wal'))
          .sort()
          .map((f) => path.join(dir, d, f)),
      )
      .flatMap((file) => readFileSync(file, 'utf8').split('\n'))
      .filter((line) => line && line.charCodeAt(0) !== 0);
    return lines.map((line) => JSON.parse(line) as { status: string; invocationId?: string }).filter((e) => e.invocationId === invocationId);
  }

  it('records a fast invocation as one event, its result, carrying the request and the response', async () => {
    const res = await inv.request('POST', '/invoke/sleepy', JSON.stringify({ data: { ms: 1 } }), JSON_HEADERS);
    expect(res.status).toBe(200);
    const id = res.headers.get('x-invocation-id')!;
    const { pending, result } = await inv.tap.invocation(id);
    expect(pending).toBeUndefined();
    expect(result).toMatchObject({
      name: 'invocation.succeeded',
      status: 'SUCCESS',
      payload: { ms: 1 },
      response: { slept: 1 },
      metadata: { trigger: 'api', version: 1, coldStart: false },
    });
    expect(inv.tap.eventsOf(id)).toHaveLength(1);
    // Durable before the answer: one journal record, the result.
    expect(journaled(id).map((e) => e.status)).toEqual(['SUCCESS']);
  });

  it('records a slow invocation as PENDING while it runs (stamped with its start), then its result', async () => {
    const before = Date.now();
    const call = inv.request('POST', '/invoke/sleepy', JSON.stringify({ data: { ms: SLOW_MS } }), JSON_HEADERS);
    // The PENDING event arrives while the invocation still runs.
    const pending = await new Promise<NonNullable<(typeof inv.tap.events)[number]>>((resolve, reject) => {
      const timer = setInterval(() => {
        const e = inv.tap.events.find((x) => x.status === 'PENDING' && (x.payload as { ms?: number } | null)?.ms === SLOW_MS);
        if (e) {
          clearInterval(timer);
          resolve(e);
        }
      }, 20);
      call.then(() => {
        clearInterval(timer);
        reject(new Error('the slow invocation was answered before its PENDING event arrived'));
      }, reject);
    });
    expect(pending).toMatchObject({ name: 'invocation.pending', type: 'FUNCTION_INVOCATION', metadata: { trigger: 'api', version: 1 } });
    expect(Date.parse(pending.timestamp)).toBeGreaterThanOrEqual(before);
    const res = await call;
    expect(res.json).toEqual({ slept: SLOW_MS });
    const id = res.headers.get('x-invocation-id')!;
    expect(pending.invocationId).toBe(id);
    const { result } = await inv.tap.invocation(id);
    expect(result).toMatchObject({ status: 'SUCCESS', payload: { ms: SLOW_MS }, response: { slept: SLOW_MS } });
    expect(inv.tap.eventsOf(id).map((e) => e.status)).toEqual(['PENDING', 'SUCCESS']);
    // Stamped when the invocation started (at least SLOW_MS before its end), not when it was published.
    expect(Date.parse(result.timestamp) - Date.parse(pending.timestamp)).toBeGreaterThanOrEqual(SLOW_MS - 50);
    expect(journaled(id).map((e) => e.status)).toEqual(['PENDING', 'SUCCESS']);
  });

  it('records a result for an invocation that fails inside the invoker (no PENDING left without one)', async () => {
    const pool = inv.app.get(DeploymentTable).find('sleepy')!.pool!;
    const invoke = pool.invoke.bind(pool);
    pool.invoke = () => Promise.reject(new Error('pool fault for the test'));
    let res;
    try {
      res = await inv.request<{ message: string }>('POST', '/invoke/sleepy', JSON.stringify({ data: { ms: 1 } }), JSON_HEADERS);
    } finally {
      pool.invoke = invoke;
    }
    expect(res.status).toBe(500);
    expect(res.json.message).toMatch(/the invoker failed while running this invocation: pool fault for the test/);
    const id = res.headers.get('x-invocation-id')!;
    const { result } = await inv.tap.invocation(id);
    expect(result).toMatchObject({ status: 'FAILURE', payload: { ms: 1 }, metadata: { reason: 'crash' } });
    expect(inv.tap.eventsOf(id).map((e) => e.status)).toEqual(['FAILURE']);
  });
});
