import { waitFor } from '@platform/testing';
import { InvokerHarness, startInvoker } from '../testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };

const SLEEPER = {
  'handler.js': `module.exports.handle = async (data) => {
    await new Promise((r) => setTimeout(r, (data && data.ms) || 0));
    return { tag: data && data.tag };
  };`,
};

interface Listing {
  workers: { max: number; running: number; idleFunctionWorkers: number; evictions: { functionWorkers: number; prewarmed: number } };
  prewarm: Record<'node' | 'python', { idle: number; starting: number; target: number }>;
  deployments: Array<{ label: string; instances: number; busy: number; evictions: number }>;
}

const listing = async (inv: InvokerHarness) => (await inv.request<Listing>('GET', '/deployments')).json;
const invoke = (inv: InvokerHarness, label: string, data: unknown) => inv.request('POST', `/invoke/${label}`, JSON.stringify({ data }), JSON_HEADERS);

describe('invoker: workers under the global cap (INVOKER_MAX_WORKERS)', () => {
  let inv: InvokerHarness;
  const labels = Array.from({ length: 12 }, (_, i) => `capped-${i}`);

  beforeAll(async () => {
    inv = await startInvoker({ INVOKER_MAX_WORKERS: '4', INVOKER_PREWARM: '1', INVOKER_PREWARM_MAX: '1' });
    for (const label of labels) await inv.deploy({ label, family: 'node', entrypoint: 'handler.handle', files: SLEEPER });
  }, 60_000);

  afterAll(async () => {
    await inv?.close();
  });

  it('answers every call to more functions than the cap, one after the other, by stopping the least recently used idle worker', async () => {
    for (const label of labels) {
      const res = await invoke(inv, label, { tag: label });
      expect({ label, status: res.status, body: res.json }).toEqual({ label, status: 200, body: { tag: label } });
    }
    const after = await listing(inv);
    expect(after.workers.running).toBeLessThanOrEqual(4);
    expect(after.workers.evictions.functionWorkers).toBeGreaterThanOrEqual(labels.length - 4);
    // The first functions called were the least recently used: their workers went first.
    expect(after.deployments.find((d) => d.label === 'capped-0')).toMatchObject({ instances: 0, evictions: 1 });
    expect(after.deployments.find((d) => d.label === 'capped-11')).toMatchObject({ instances: 1, evictions: 0 });
    // The prewarm pool gave its workers to the first cold starts; it is back to INVOKER_PREWARM, in the slots of idle workers.
    await waitFor(async () => (await listing(inv)).prewarm.node.idle === 1, { what: 'the node prewarm pool to refill under the cap' });
    expect((await listing(inv)).workers.running).toBeLessThanOrEqual(4);
  });

  it('answers every call when all of them arrive at once, each waiting only for a worker to go idle', async () => {
    const before = (await listing(inv)).workers.evictions.functionWorkers;
    const answers = await Promise.all(labels.map((label) => invoke(inv, label, { tag: label, ms: 50 })));
    expect(answers.map((r) => r.status)).toEqual(labels.map(() => 200));
    expect(answers.map((r) => r.json.tag)).toEqual(labels);
    const after = await listing(inv);
    expect(after.workers.running).toBeLessThanOrEqual(4);
    expect(after.workers.evictions.functionWorkers).toBeGreaterThan(before);
  });

  it('answers 503 naming INVOKER_MAX_WORKERS, not the function, when every worker stays busy past the time limit', async () => {
    await inv.deploy({ label: 'latecomer', family: 'node', entrypoint: 'handler.handle', files: SLEEPER, config: { resources: { timeoutMs: 500 } } });
    const busy = labels.slice(0, 4).map((label) => invoke(inv, label, { tag: label, ms: 2_000 }));
    await waitFor(async () => (await listing(inv)).deployments.filter((d) => labels.slice(0, 4).includes(d.label) && d.busy === 1).length === 4, {
      what: 'four busy workers filling the cap',
    });
    const late = await invoke(inv, 'latecomer', { tag: 'late' });
    expect(late.status).toBe(503);
    expect(late.json.message).toContain('INVOKER_MAX_WORKERS=4');
    expect(late.json.message).toContain('4 of them are busy');
    expect((await inv.tap.invocation(late.headers.get('x-invocation-id')!)).result).toMatchObject({ status: 'FAILURE', metadata: { reason: 'timeout' } });
    expect((await Promise.all(busy)).map((r) => r.status)).toEqual([200, 200, 200, 200]);
    // Once they are done, the same function gets a worker.
    expect((await invoke(inv, 'latecomer', { tag: 'again' })).status).toBe(200);
  }, 20_000);
});

describe('invoker: the prewarm pool refills and follows demand', () => {
  let inv: InvokerHarness;
  // Long enough that a burst answered slowly on a loaded machine is still in the window when the test reads the target.
  const WINDOW_MS = 8_000;

  beforeAll(async () => {
    // Room under the cap for every runtime's pool (node, python, go, java, custom: 2 each, node up to 5) and five functions.
    inv = await startInvoker({ INVOKER_MAX_WORKERS: '24', INVOKER_PREWARM: '2', INVOKER_PREWARM_MAX: '5', INVOKER_PREWARM_WINDOW_MS: String(WINDOW_MS) });
    for (let i = 0; i < 5; i++) await inv.deploy({ label: `burst-${i}`, family: 'node', entrypoint: 'handler.handle', files: SLEEPER });
  }, 60_000);

  afterAll(async () => {
    await inv?.close();
  });

  const nodePrewarm = async () => (await listing(inv)).prewarm.node;

  it('refills to its size after a cold start took one of its workers', async () => {
    await waitFor(async () => (await nodePrewarm()).idle === 2, { what: 'two prewarmed node workers' });
    const res = await invoke(inv, 'burst-0', { tag: 0 });
    expect(res.headers.get('x-cold-start')).toBe('true');
    await waitFor(async () => (await nodePrewarm()).idle === 2, { what: 'the pool to refill to two' });
  });

  it('grows with a burst of cold starts, up to INVOKER_PREWARM_MAX, and shrinks back once the burst is older than the window', async () => {
    const burst = await Promise.all([1, 2, 3, 4].map((i) => invoke(inv, `burst-${i}`, { tag: i })));
    expect(burst.map((r) => r.headers.get('x-cold-start'))).toEqual(['true', 'true', 'true', 'true']);
    // Five cold starts in the window (the one above and these four): five waiting workers.
    expect((await nodePrewarm()).target).toBe(5);
    await waitFor(async () => (await nodePrewarm()).idle === 5, { what: 'the pool to grow to five' });
    await waitFor(async () => (await nodePrewarm()).target === 2 && (await nodePrewarm()).idle === 2, {
      timeoutMs: WINDOW_MS * 4,
      what: 'the pool to shrink back to two',
    });
  }, 60_000);

  it('refills while a cold start is still loading a function whose module takes long to load', async () => {
    await waitFor(async () => (await nodePrewarm()).idle === 2, { what: 'two prewarmed node workers' });
    // The module blocks its worker for 4 s while it loads: refills wait for loading cold starts only briefly.
    await inv.deploy({
      label: 'slow-load',
      family: 'node',
      entrypoint: 'handler.handle',
      files: { 'handler.js': 'Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 4000);\nmodule.exports.handle = async () => ({ loaded: true });\n' },
    });
    let answered = false;
    const call = invoke(inv, 'slow-load', null).then((res) => ((answered = true), res));
    await waitFor(
      async () => {
        const now = await listing(inv);
        return now.deployments.find((d) => d.label === 'slow-load')?.instances === 1 && now.prewarm.node.idle === 2;
      },
      { what: 'the slow function to take a prewarmed worker and the pool to refill while it loads' },
    );
    expect(answered).toBe(false);
    expect((await call).json).toEqual({ loaded: true });
  }, 20_000);
});
