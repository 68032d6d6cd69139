import { waitFor } from '@platform/testing';
import { InvokerHarness, startInvoker } from '../testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };

/** Answers at once; with `backlog` it reports it as its custom metric, as a handler of any runtime can (a response header). */
const FAST = {
  'handler.js': `module.exports.handle = async (data) => {
    if (data && data.backlog !== undefined) return { statusCode: 200, headers: { 'x-hks-metric': 'backlog=' + data.backlog }, body: 'ok' };
    return { ok: true };
  };`,
};

/** Keeps a core busy for `ms`. */
const BURNER = {
  'handler.js': `module.exports.handle = async ({ ms }) => {
    const end = Date.now() + ms;
    let x = 0;
    while (Date.now() < end) x += Math.sqrt(x + 1);
    return { x };
  };`,
};

/** Holds `mb` MiB (touched, so resident) for as long as the worker lives. */
const HOLDER = {
  'handler.js': `const held = [];
  module.exports.handle = async ({ mb }) => {
    held.push(Buffer.alloc(mb * 1024 * 1024, 1));
    return { held: held.length };
  };`,
};

describe('invoker: pools scale on the metric the function chose', () => {
  let inv: InvokerHarness;

  beforeAll(async () => {
    inv = await startInvoker();
  }, 60_000);

  afterAll(async () => {
    await inv?.close();
  });

  type Pool = { label: string; instances: number; starting: number; signal: { metric: string; total: number; desired: number; target: number } };
  const poolOf = async (label: string) => {
    const res = await inv.request('GET', '/deployments');
    return (res.json.deployments as Pool[]).find((d) => d.label === label)!;
  };
  const invoke = (label: string, data: unknown) => inv.request('POST', `/invoke/${label}`, JSON.stringify({ data }), JSON_HEADERS);

  /** One request after another (never two at once), about `perSecond` a second, for `ms`. */
  async function sequential(label: string, perSecond: number, ms: number): Promise<number[]> {
    const statuses: number[] = [];
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const started = Date.now();
      statuses.push((await invoke(label, null)).status);
      await new Promise((r) => setTimeout(r, Math.max(0, 1000 / perSecond - (Date.now() - started))));
    }
    return statuses;
  }

  it('adds instances on requests per second where scaling on concurrency keeps one', async () => {
    const scaling = { maxInstances: 6, idleTimeoutMs: 60_000 };
    await inv.deploy({
      label: 'by-rps',
      family: 'node',
      entrypoint: 'handler.handle',
      files: FAST,
      config: { scaling: { ...scaling, metric: 'rps', target: 5 } },
    });
    await inv.deploy({ label: 'by-concurrency', family: 'node', entrypoint: 'handler.handle', files: FAST, config: { scaling } });

    const [rps, concurrency] = await Promise.all([sequential('by-rps', 30, 4_000), sequential('by-concurrency', 30, 4_000)]);
    expect(new Set(rps)).toEqual(new Set([200]));
    expect(new Set(concurrency)).toEqual(new Set([200]));

    const byRps = await poolOf('by-rps');
    // About 30 a second on a loaded machine is fewer: at least 10 a second (two instances' worth at 5) still came.
    expect(rps.length).toBeGreaterThan(40);
    expect(byRps.signal).toMatchObject({ metric: 'rps', target: 5 });
    expect(byRps.signal.desired).toBeGreaterThan(1);
    await waitFor(async () => (await poolOf('by-rps')).instances > 1, { what: 'the rps pool to run more than one instance', timeoutMs: 20_000 });
    const byConcurrency = await poolOf('by-concurrency');
    expect(byConcurrency.instances + byConcurrency.starting).toBe(1);
    expect(byConcurrency.signal).toMatchObject({ metric: 'concurrency', desired: 0 });

    // The instances the rate asked for share the traffic.
    const workers = new Set<string>();
    for (let i = 0; i < 12; i++) {
      const res = await invoke('by-rps', null);
      workers.add(String((await inv.tap.invocation(res.headers.get('x-invocation-id')!)).result.metadata!.workerId));
    }
    expect(workers.size).toBeGreaterThan(1);

    // /metrics shows the value each pool scales on, by function and metric.
    const metrics = (await inv.request('GET', '/metrics')).text;
    const rate = Number(/^hks_scaling_metric\{function="by-rps",metric="rps",service="invoker"\} (\S+)$/m.exec(metrics)?.[1]);
    expect(rate).toBeGreaterThan(5);
    expect(metrics).toMatch(/^hks_scaling_target\{function="by-rps",metric="rps",service="invoker"\} 5$/m);
    expect(metrics).toMatch(/^hks_scaling_desired_instances\{function="by-rps",service="invoker"\} [2-6]$/m);
  }, 60_000);

  it("adds instances on CPU: the busy worker's process tree, sampled from /proc, over the target", async () => {
    await inv.deploy({
      label: 'by-cpu',
      family: 'node',
      entrypoint: 'handler.handle',
      files: BURNER,
      config: { scaling: { metric: 'cpu', target: 20, maxInstances: 3, concurrency: 1 } },
    });
    // One request at a time: on concurrency the pool would never need a second instance.
    const burning = invoke('by-cpu', { ms: 6_000 });
    await waitFor(async () => (await poolOf('by-cpu')).signal.total > 20, { what: 'the worker to show more than 20% CPU', timeoutMs: 20_000 });
    await waitFor(async () => (await poolOf('by-cpu')).instances > 1, { what: 'a second instance for CPU', timeoutMs: 20_000 });
    expect((await burning).status).toBe(200);
  }, 60_000);

  it("adds instances on memory: the worker's cgroup (or RSS) over the target", async () => {
    await inv.deploy({
      label: 'by-memory',
      family: 'node',
      entrypoint: 'handler.handle',
      files: HOLDER,
      config: { resources: { memoryMb: 256 }, scaling: { metric: 'memory', target: 100, maxInstances: 3 } },
    });
    expect((await invoke('by-memory', { mb: 120 })).status).toBe(200);
    await waitFor(async () => (await poolOf('by-memory')).signal.total > 100, { what: 'the worker to show more than 100 MiB', timeoutMs: 20_000 });
    await waitFor(async () => (await poolOf('by-memory')).instances > 1, { what: 'a second instance for memory', timeoutMs: 20_000 });
  }, 60_000);

  it('adds instances on the custom metric the handler reports in x-hks-metric, and keeps the header to itself', async () => {
    await inv.deploy({
      label: 'by-backlog',
      family: 'node',
      entrypoint: 'handler.handle',
      files: FAST,
      config: { scaling: { metric: 'custom', customMetric: 'backlog', target: 10, maxInstances: 5 } },
    });
    const res = await invoke('by-backlog', { backlog: 35 });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-hks-metric')).toBeNull();
    await waitFor(async () => (await poolOf('by-backlog')).instances >= 4, { what: 'ceil(35 / 10) = 4 instances', timeoutMs: 20_000 });
    expect(await poolOf('by-backlog')).toMatchObject({ instances: 4, signal: { metric: 'custom', total: 35, desired: 4 } });
  }, 60_000);
});
