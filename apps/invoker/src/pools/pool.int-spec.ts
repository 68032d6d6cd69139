import { waitFor } from '@platform/testing';
import { InvokerHarness, startInvoker } from '../testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };

/**
 * Each invocation waits until `n` invocations have started in the same process (or 10 s): with fewer at once they
 * could never all get past the barrier together. Answers how many ran at once at most in its process.
 */
const NODE_BARRIER = {
  'handler.js': `let running = 0, peak = 0, started = 0;
  const waiting = [];
  module.exports.handle = async ({ n, holdMs }) => {
    running++; started++; peak = Math.max(peak, running);
    if (started >= n) waiting.splice(0).forEach((go) => go());
    else await new Promise((go) => { waiting.push(go); setTimeout(go, 10000); });
    if (holdMs) await new Promise((r) => setTimeout(r, holdMs));
    running--;
    return { peak };
  };`,
};
const PYTHON_BARRIER = {
  'handler.py': `import asyncio

rounds = {}


async def handle(data):
    r = rounds.get(data['round'])
    if r is None:
        r = rounds[data['round']] = {'running': 0, 'peak': 0, 'started': 0, 'all_in': asyncio.Event()}
    r['running'] += 1
    r['started'] += 1
    r['peak'] = max(r['peak'], r['running'])
    if r['started'] >= data['n']:
        r['all_in'].set()
    try:
        await asyncio.wait_for(r['all_in'].wait(), 10)
    except asyncio.TimeoutError:
        pass
    r['running'] -= 1
    return {'peak': r['peak']}
`,
};

const SLEEPER = {
  'handler.js': `module.exports.handle = async (data) => {
    if (data && data.crash) process.exit(3);
    console.log('start', data && data.tag);
    await new Promise((r) => setTimeout(r, (data && data.ms) || 0));
    console.log('end', data && data.tag);
    return { tag: data && data.tag };
  };`,
};

describe('invoker: pools scale by their rules', () => {
  let inv: InvokerHarness;

  beforeAll(async () => {
    inv = await startInvoker();
  }, 60_000);

  afterAll(async () => {
    await inv?.close();
  });

  const poolOf = async (label: string) => {
    const res = await inv.request('GET', '/deployments');
    return (res.json.deployments as Array<{ label: string; instances: number; starting: number; workers: Array<{ id: string }> }>).find(
      (d) => d.label === label,
    );
  };
  const invoke = (label: string, data: unknown) => inv.request('POST', `/invoke/${label}`, JSON.stringify({ data }), JSON_HEADERS);
  const peakOf = (answers: Array<{ json: unknown }>) => Math.max(...answers.map((r) => (r.json as { peak: number }).peak));
  const workersOf = async (answers: Array<{ headers: Headers }>) =>
    new Set(await Promise.all(answers.map(async (r) => (await inv.tap.invocation(r.headers.get('x-invocation-id')!)).result.metadata!.workerId))).size;

  it('keeps minInstances warm from the moment the deployment answers', async () => {
    await inv.deploy({
      label: 'warm-two',
      family: 'python',
      entrypoint: 'handler.main',
      files: { 'handler.py': 'def main(request):\n    return 1\n' },
      config: { scaling: { minInstances: 2 } },
    });
    expect(await poolOf('warm-two')).toMatchObject({ instances: 2, starting: 0 });
    const res = await invoke('warm-two', null);
    expect(res.headers.get('x-cold-start')).toBe('false');
  });

  it('scales an idle function to zero after idleTimeoutMs, and starts it cold again on the next request', async () => {
    await inv.deploy({ label: 'to-zero', family: 'node', entrypoint: 'handler.handle', files: SLEEPER, config: { scaling: { idleTimeoutMs: 300 } } });
    expect((await invoke('to-zero', { tag: 'a' })).headers.get('x-cold-start')).toBe('true');
    await waitFor(async () => (await poolOf('to-zero'))!.instances === 0, { what: 'the pool to scale to zero' });
    expect((await invoke('to-zero', { tag: 'b' })).headers.get('x-cold-start')).toBe('true');
  });

  it('scales back down to minInstances, not below', async () => {
    await inv.deploy({
      label: 'min-one',
      family: 'node',
      entrypoint: 'handler.handle',
      files: SLEEPER,
      config: { scaling: { minInstances: 1, idleTimeoutMs: 600, concurrency: 1 } },
    });
    const burst = await Promise.all([invoke('min-one', { ms: 300 }), invoke('min-one', { ms: 300 })]);
    expect(burst.map((r) => r.status)).toEqual([200, 200]);
    expect(new Set(burst.map((r) => r.headers.get('x-invocation-id'))).size).toBe(2);
    const workers = await Promise.all(burst.map(async (r) => (await inv.tap.invocation(r.headers.get('x-invocation-id')!)).result.metadata!.workerId));
    expect(new Set(workers).size).toBe(2);
    await waitFor(async () => (await poolOf('min-one'))!.instances === 1, { what: 'the pool to shrink to one instance' });
    await new Promise((r) => setTimeout(r, 900));
    expect((await poolOf('min-one'))!.instances).toBe(1);
  });

  it('queues requests while its only instance is busy, and answers 429 once scaling.queueSize are waiting', async () => {
    await inv.deploy({
      label: 'narrow',
      family: 'node',
      entrypoint: 'handler.handle',
      files: SLEEPER,
      config: { scaling: { maxInstances: 1, concurrency: 1, queueSize: 1 } },
    });
    const answers = await Promise.all([invoke('narrow', { ms: 400, tag: 1 }), invoke('narrow', { ms: 400, tag: 2 }), invoke('narrow', { ms: 400, tag: 3 })]);
    const statuses = answers.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 429]);
    const rejected = answers.find((r) => r.status === 429)!;
    expect(rejected.json.message).toContain('scaling.queueSize 1');
    expect((await inv.tap.invocation(rejected.headers.get('x-invocation-id')!)).result).toMatchObject({
      status: 'FAILURE',
      metadata: { reason: 'queue-full' },
    });
  });

  it('fails only the in-flight requests of a crashed worker (502 with the reason) and replaces it', async () => {
    await inv.deploy({
      label: 'crashy',
      family: 'node',
      entrypoint: 'handler.handle',
      files: SLEEPER,
      config: { scaling: { maxInstances: 1, concurrency: 2 } },
    });
    await invoke('crashy', { tag: 'warm-up' });
    const slow = invoke('crashy', { ms: 2000, tag: 'slow' });
    await new Promise((r) => setTimeout(r, 100));
    const crash = await invoke('crashy', { crash: true });
    expect(crash.status).toBe(502);
    expect(crash.json.message).toContain('exited unexpectedly (exit code 3)');
    const slowAnswer = await slow;
    expect(slowAnswer.status).toBe(502);
    const event = (await inv.tap.invocation(slowAnswer.headers.get('x-invocation-id')!)).result;
    expect(event).toMatchObject({ status: 'FAILURE', metadata: { reason: 'crash' } });
    expect(event.metadata!.logs).toContain('start slow');
    const after = await invoke('crashy', { tag: 'after' });
    expect(after.status).toBe(200);
    expect(after.json).toEqual({ tag: 'after' });
  });

  it('serves up to `concurrency` requests at once on one worker, each with its own logs', async () => {
    await inv.deploy({
      label: 'parallel',
      family: 'node',
      entrypoint: 'handler.handle',
      files: SLEEPER,
      config: { scaling: { maxInstances: 1, concurrency: 4 } },
    });
    const answers = await Promise.all([1, 2, 3, 4].map((tag) => invoke('parallel', { ms: 300, tag })));
    expect(answers.map((r) => r.json.tag)).toEqual([1, 2, 3, 4]);
    const results = await Promise.all(answers.map((r) => inv.tap.invocation(r.headers.get('x-invocation-id')!)));
    expect(new Set(results.map((e) => e.result.metadata!.workerId)).size).toBe(1);
    results.forEach(({ result }, i) => expect(result.metadata!.logs).toBe(`start ${i + 1}\nend ${i + 1}\n`));
  });

  it('runs many requests at once on one Node worker when the function sets no concurrency (the runtime default)', async () => {
    await inv.deploy({ label: 'node-default', family: 'node', entrypoint: 'handler.handle', files: NODE_BARRIER, config: { scaling: { maxInstances: 4 } } });
    const n = 16;
    const answers = await Promise.all(Array.from({ length: n }, () => invoke('node-default', { n })));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    // All sixteen were inside the handler together, in one process.
    expect(peakOf(answers)).toBe(n);
    expect(await workersOf(answers)).toBe(1);
    const pool = await poolOf('node-default');
    expect(pool).toMatchObject({ scaling: { concurrency: 64 }, workers: [{ concurrency: 64, served: n }] });
  });

  it('gives a plain def Python handler one request at a time and an async def one many, on one worker, by default', async () => {
    await inv.deploy({
      label: 'py-sync-default',
      family: 'python',
      entrypoint: 'handler.handle',
      files: { 'handler.py': 'def handle(data):\n    return 1\n' },
    });
    await inv.deploy({
      label: 'py-async-default',
      family: 'python',
      entrypoint: 'handler.handle',
      files: PYTHON_BARRIER,
      config: { scaling: { maxInstances: 4 } },
    });
    expect((await invoke('py-sync-default', null)).status).toBe(200);
    // The first call tells the pool what the handler takes (until a worker has loaded it, an instance takes one request).
    expect((await invoke('py-async-default', { n: 1, round: 'first' })).status).toBe(200);
    const n = 8;
    const answers = await Promise.all(Array.from({ length: n }, () => invoke('py-async-default', { n, round: 'burst' })));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    expect(peakOf(answers)).toBe(n);
    expect(await workersOf(answers)).toBe(1);
    const pools = (await inv.request('GET', '/deployments')).json.deployments as Array<{ label: string; workers: Array<{ concurrency: number }> }>;
    expect(pools.find((d) => d.label === 'py-sync-default')!.workers.map((w) => w.concurrency)).toEqual([1]);
    expect(pools.find((d) => d.label === 'py-async-default')!.workers.map((w) => w.concurrency)).toEqual([64]);
  });

  it('spreads large requests over workers instead of piling them into one past its memory limit', async () => {
    await inv.deploy({
      label: 'big-inputs',
      family: 'node',
      entrypoint: 'handler.handle',
      files: { 'handler.js': 'module.exports.handle = async (d) => { await new Promise((r) => setTimeout(r, 300)); return { n: d.s.length }; };\n' },
    });
    // 64 requests of 1 MB at once: within the default concurrency (64), but not within 128 MB.
    const s = 'x'.repeat(1024 * 1024);
    const answers = await Promise.all(Array.from({ length: 64 }, () => invoke('big-inputs', { s })));
    expect(answers.map((r) => r.status)).toEqual(answers.map(() => 200));
    expect(answers.every((r) => (r.json as { n: number }).n === s.length)).toBe(true);
    expect((await poolOf('big-inputs'))!.workers.length).toBeGreaterThan(1);
  }, 60_000);

  it('keeps the concurrency a function set, whatever its runtime would take', async () => {
    await inv.deploy({
      label: 'node-set-one',
      family: 'node',
      entrypoint: 'handler.handle',
      files: NODE_BARRIER,
      config: { scaling: { concurrency: 1, maxInstances: 3 } },
    });
    // Held a while, so that one worker given more than one would have them in its handler together.
    const answers = await Promise.all([1, 2, 3].map(() => invoke('node-set-one', { n: 1, holdMs: 300 })));
    expect(answers.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(peakOf(answers)).toBe(1);
    expect(await poolOf('node-set-one')).toMatchObject({ scaling: { concurrency: 1 } });
    expect((await poolOf('node-set-one'))!.workers.every((w) => (w as unknown as { concurrency: number }).concurrency === 1)).toBe(true);
  });

  it('runs concurrent python invocations on threads, each with its own printed logs', async () => {
    await inv.deploy({
      label: 'py-parallel',
      family: 'python',
      entrypoint: 'handler.handle',
      files: {
        'handler.py':
          "import time\n\ndef handle(data):\n    print('begin', data['tag'])\n    time.sleep(0.3)\n    print('done', data['tag'])\n    return data['tag']\n",
      },
      config: { scaling: { maxInstances: 1, concurrency: 3 } },
    });
    const answers = await Promise.all(['a', 'b', 'c'].map((tag) => invoke('py-parallel', { tag })));
    expect(answers.map((r) => r.json)).toEqual(['a', 'b', 'c']);
    const results = await Promise.all(answers.map((r) => inv.tap.invocation(r.headers.get('x-invocation-id')!)));
    results.forEach(({ result }, i) => expect(result.metadata!.logs).toBe(`begin ${'abc'[i]}\ndone ${'abc'[i]}\n`));
  });

  it('drops a function on DELETE: later requests ask the deployer again', async () => {
    const fn = await inv.deploy({ label: 'short-lived', family: 'node', entrypoint: 'handler.handle', files: SLEEPER });
    expect((await invoke('short-lived', { tag: 1 })).status).toBe(200);
    expect((await inv.request('DELETE', `/deployments/${fn.spec.functionId}`)).status).toBe(200);
    expect(await poolOf('short-lived')).toBeUndefined();
    const res = await invoke('short-lived', { tag: 2 });
    expect(res.status).toBe(409);
  });
});
