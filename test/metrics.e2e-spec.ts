import { readdirSync, readFileSync } from 'fs';
import * as path from 'path';
import { platformClient, until } from './support/invocations';
import { RunningPlatform, startPlatform } from './support/platform';
import { TestPrometheus } from './support/prometheus';

jest.setTimeout(60_000);

const SERVICES = ['gateway', 'invoker', 'function-registry', 'builder', 'deployer', 'event-store'];
const METRICS_TOKEN = 'scrape-token-for-the-metrics-e2e';

/**
 * Prometheus metrics (issue 15): a real Prometheus from Debian's package scrapes /metrics on every service of a
 * started platform, with a bearer token, and its HTTP API answers queries whose values are the traffic the test
 * made. Both process layouts: the six services in one process (the local default) and one process each (a cluster).
 */
describe.each([
  { processes: 'one', auth: 'METRICS_TOKEN' },
  { processes: 'each', auth: 'the internal credential' },
])('Prometheus metrics, services in $processes process(es), scraped with $auth', ({ processes, auth }) => {
  let p: RunningPlatform;
  let prom: TestPrometheus;
  const { call, deploy } = platformClient(() => p);
  const ids = { echo: '', thrower: '' };
  let coldStarts = 0;
  const invocationIds: string[] = [];

  beforeAll(async () => {
    p = await startPlatform({
      HKS_PROCESSES: processes,
      // The invoker at debug (a line per invocation), the others at info.
      LOG_LEVEL: 'info',
      INVOKER_LOG_LEVEL: 'debug',
      ...(auth === 'METRICS_TOKEN' ? { METRICS_TOKEN } : {}),
    });
    const [echo, thrower] = await Promise.all([
      deploy({ label: `metrics-echo-${processes}`, runtime: 'node', handler: 'module.exports.handle = async (input) => ({ got: input });\n' }),
      deploy({ label: `metrics-thrower-${processes}`, runtime: 'python', handler: 'def handle(event):\n    raise ValueError("boom")\n' }),
    ]);
    Object.assign(ids, { echo, thrower });
    for (let i = 0; i < 7; i++) {
      const r = await call('POST', `/api/v1/functions/invoke/${echo}`, { data: { i } });
      expect(r.status).toBe(200);
      if (r.headers.get('x-cold-start') === 'true') coldStarts++;
      invocationIds.push(r.headers.get('x-invocation-id')!);
    }
    for (let i = 0; i < 3; i++) expect((await call('POST', `/api/v1/functions/invoke/${thrower}`, { data: i })).status).toBe(500);
    const targets = SERVICES.map((s) => `127.0.0.1:${p.ports[s]}`);
    prom = await TestPrometheus.start(targets, auth === 'METRICS_TOKEN' ? METRICS_TOKEN : p.internalToken);
    // Every target scraped at least once since the traffic (Prometheus spreads its first scrapes over the interval).
    await until(
      async () => {
        const t = await prom.targets();
        return t.length === 6 && t.every((x) => x.health === 'up') ? true : undefined;
      },
      'Prometheus to have scraped all six services',
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
  }, 300_000);

  afterAll(async () => {
    await prom?.stop();
    await p?.stop();
  }, 60_000);

  /** Waits until Prometheus has scraped a value for `q` that `ok` accepts (it scrapes every second). */
  const settled = (q: string, ok: (v: number) => boolean, what: string) =>
    until(
      async () => {
        const v = await prom.value(q);
        return v !== undefined && ok(v) ? v : undefined;
      },
      `${q} ${what}`,
      20_000,
    ).catch(async (err: Error) => {
      throw new Error(`${err.message}; it is ${JSON.stringify(await prom.query(q))}; targets: ${JSON.stringify(await prom.targets())}`);
    });

  it('refuses /metrics without the token, and with an API key', async () => {
    for (const s of SERVICES) {
      const none = await fetch(`http://127.0.0.1:${p.ports[s]}/metrics`);
      expect({ s, status: none.status }).toEqual({ s, status: 401 });
      expect(((await none.json()) as { message: string }).message).toContain('Authorization: Bearer');
    }
    const withKey = await fetch(`http://127.0.0.1:${p.ports.gateway}/metrics`, { headers: { authorization: `Bearer ${p.adminKey}` } });
    expect(withKey.status).toBe(401);
  });

  it('scrapes all six services', async () => {
    await settled('count(up == 1)', (v) => v === 6, 'to be 6');
    const targets = await prom.targets();
    expect(targets.map((t) => t.health)).toEqual(Array(6).fill('up'));
    // Every service names itself on its own series, once.
    const services = (await prom.query('count by (service) (hks_rpc_client_duration_seconds_count or hks_workers or hks_events_ingested_total)')).map(
      (s) => s.metric.service,
    );
    expect(services).toEqual(expect.arrayContaining(['gateway', 'invoker', 'event-store']));
  });

  it('counts invocations by function and outcome, with duration and cold-start histograms', async () => {
    const echo = `metrics-echo-${processes}`;
    const thrower = `metrics-thrower-${processes}`;
    expect(await settled(`hks_invocations_total{function="${echo}",outcome="success"}`, (v) => v === 7, 'to be 7')).toBe(7);
    expect(await settled(`hks_invocations_total{function="${thrower}",outcome="error"}`, (v) => v === 3, 'to be 3')).toBe(3);
    expect(await prom.value(`hks_invocation_duration_seconds_count{function="${echo}"}`)).toBe(7);
    expect(await prom.value(`hks_invocation_queue_wait_seconds_count{function="${echo}"}`)).toBe(7);
    // As many cold starts as answers that said so (x-cold-start), none when a worker was warm from the deploy.
    expect((await prom.value(`hks_cold_start_duration_seconds_count{function="${echo}"}`)) ?? 0).toBe(coldStarts);
    // Series come from the invoker alone, labelled so, never from another service of the same process.
    expect((await prom.query(`hks_invocations_total{function="${echo}"}`)).map((s) => s.metric.service)).toEqual(['invoker']);
    // The duration is real: the sum is positive and below what 7 calls of a trivial handler take in the worst case.
    const sum = (await prom.value(`hks_invocation_duration_seconds_sum{function="${echo}"}`))!;
    expect(sum).toBeGreaterThan(0);
    expect(sum).toBeLessThan(60);
  });

  it('shows workers by state, builds, event ingest and RPC latency', async () => {
    // Each function has its one warm worker, idle now.
    expect(await settled(`sum(hks_workers{function="metrics-echo-${processes}"})`, (v) => v === 1, 'to be 1')).toBe(1);
    expect(await prom.value(`hks_workers{function="metrics-echo-${processes}",state="idle"}`)).toBe(1);
    expect(await prom.value('sum(hks_builds_total{outcome="succeeded"})')).toBe(2);
    expect(await prom.value('sum(hks_build_duration_seconds_count)')).toBe(2);
    expect(await prom.value('hks_build_queue_depth')).toBe(0);
    // Every invocation is an event (pending events off by default; one result each), plus lifecycle events.
    await settled('hks_events_ingested_total{result="stored"}', (v) => v >= 10, 'to be at least 10');
    expect(await prom.value('hks_event_ingest_lag_seconds_count')).toBeGreaterThanOrEqual(10);
    expect(await prom.value('sum(hks_rpc_client_duration_seconds_count{service="gateway",outcome="ok"})')).toBeGreaterThan(0);
  });

  it('has the process metrics once per process, not once per service', async () => {
    const series = await prom.query('process_resident_memory_bytes');
    expect(series).toHaveLength(processes === 'one' ? 1 : 6);
    expect(await prom.value('min(nodejs_heap_size_used_bytes)')).toBeGreaterThan(0);
  });

  it('writes JSON log lines naming the service, and the invocation id on the lines of an invocation', () => {
    const lines = readdirSync(p.logDir)
      .filter((f) => f.endsWith('.log'))
      .flatMap((f) => readFileSync(path.join(p.logDir, f), 'utf8').split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { service?: string; level?: string; msg?: string; invocationId?: string; context?: string });
    expect(new Set(lines.map((l) => l.service))).toEqual(new Set(SERVICES));
    // Each invocation's debug line of the invoker carries its id; no service but the invoker wrote one.
    const answered = lines.filter((l) => l.context === 'InvokeServer' && l.level === 'debug' && /answered \d{3}/.test(l.msg ?? ''));
    expect(answered.every((l) => l.service === 'invoker')).toBe(true);
    for (const id of invocationIds) expect(answered.filter((l) => l.invocationId === id)).toHaveLength(1);
    // Debug lines come from the invoker alone (the others are at info).
    expect(new Set(lines.filter((l) => l.level === 'debug').map((l) => l.service))).toEqual(new Set(['invoker']));
  });
});
