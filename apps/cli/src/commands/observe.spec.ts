import { toCloudEvent, type InvocationStats, type PlatformEvent } from '@platform/contracts';
import { FakeGateway, hks } from '../../test/fake-gateway';
import { bucketFor } from './stats';

const FN = { id: '11111111-1111-4111-8111-111111111111', label: 'hello-world', status: 'READY', version: 1 };

function result(n: number, status: 'SUCCESS' | 'FAILURE', extra: Partial<PlatformEvent> = {}): PlatformEvent {
  return {
    id: `e${n}`,
    name: status === 'SUCCESS' ? 'invocation.succeeded' : 'invocation.failed',
    type: 'FUNCTION_INVOCATION',
    status,
    timestamp: new Date(Date.UTC(2026, 0, 31, 12, 0, n)).toISOString(),
    source: 'invoker',
    functionId: FN.id,
    invocationId: `abcdef0${n}-0000-4000-8000-000000000000`,
    payload: null,
    response: null,
    processingTimeMs: 10 + n,
    error: status === 'FAILURE' ? 'ValueError: bad input\nTraceback...' : null,
    metadata: { coldStart: n === 1, logs: `line ${n}\n` },
    ...extra,
  };
}

describe('hks function logs, stats and metrics (against a fake gateway)', () => {
  const gw = new FakeGateway();
  beforeAll(() => gw.start());
  afterAll(() => gw.stop());
  beforeEach(() => {
    gw.reset();
    gw.on('GET', '/api/v1/functions/:ref', (_r, [ref]) =>
      ref === FN.label || ref === FN.id ? { body: FN } : { status: 404, body: { statusCode: 404, message: 'no' } },
    );
    gw.on('GET', '/api/v3/events', (req) => {
      const all = [result(1, 'SUCCESS'), result(2, 'FAILURE'), result(3, 'SUCCESS')];
      const items = all.filter((e) => e.status === req.query.status).reverse();
      return { body: { items, total: items.length, page: 1, limit: Number(req.query.limit) } };
    });
  });

  it('shows invocations oldest first with their logs and errors', async () => {
    const r = await hks(['function', 'logs', 'hello-world'], { gateway: gw.url, env: { TZ: 'UTC', HKS_CONFIG: '/none' } });
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^2026-01-31 \d\d:00:01 {2}abcdef01 {2}SUCCESS {2}11 ms {2}cold start$/);
    expect(lines[1]).toBe('  line 1');
    expect(lines[2]).toMatch(/abcdef02 {2}FAILURE {2}12 ms {2}error: ValueError: bad input$/);
    expect(lines[4]).toMatch(/abcdef03 {2}SUCCESS/);
    const queries = gw.requests.filter((q) => q.path === '/api/v3/events').map((q) => q.query);
    expect(queries).toContainEqual(expect.objectContaining({ functionId: FN.id, status: 'SUCCESS', type: 'FUNCTION_INVOCATION', order: 'desc', limit: '100' }));
  });

  it('shows only failures with --level error, and asks only for the time asked with --since', async () => {
    const before = Date.now();
    const r = await hks(['function', 'logs', 'hello-world', '--level', 'error', '--since', '1h'], { gateway: gw.url });
    expect(r.stdout).not.toContain('SUCCESS');
    expect(r.stdout).toContain('FAILURE');
    const q = gw.requests.filter((x) => x.path === '/api/v3/events');
    expect(q.map((x) => x.query.status)).toEqual(['FAILURE']);
    const from = Date.parse(q[0].query.from);
    expect(from).toBeGreaterThanOrEqual(before - 3_600_000 - 1000);
    expect(from).toBeLessThanOrEqual(Date.now() - 3_600_000 + 1000);
  });

  it('refuses a --since it cannot read', async () => {
    const r = await hks(['function', 'logs', 'hello-world', '--since', 'yesterday'], { gateway: gw.url });
    expect(r).toMatchObject({ code: 2, stderr: 'error: --since yesterday is not a duration (1h, 30m, 2d) or a date (2026-01-31T12:00:00Z)\n' });
  });

  it('keeps printing new invocations from the event stream with --follow until stopped', async () => {
    gw.on('GET', '/api/v3/events/stream', (req, _p, res) => {
      expect(req.query.functionId).toBe(FN.id);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(': connected\n\n');
      // Frames as the gateway sends them: the CloudEvent of each event.
      const frame = (e: PlatformEvent) => `id: ${e.id}\nevent: dev.hks.${e.name}\ndata: ${JSON.stringify(toCloudEvent(e))}\n\n`;
      res.write(frame(result(3, 'SUCCESS'))); // already shown: not printed twice
      res.write(frame(result(4, 'PENDING' as 'SUCCESS'))); // not a result: not printed
      res.write(frame(result(5, 'SUCCESS')));
      return 'handled';
    });
    const controller = new AbortController();
    let out = '';
    const run = hks(['function', 'logs', 'hello-world', '--follow'], {
      gateway: gw.url,
      signal: controller.signal,
      stdout: (t) => {
        out += t;
        if (t.includes('abcdef05')) controller.abort();
      },
    });
    const r = await run;
    expect(r.code).toBe(0);
    expect(out.match(/abcdef03/g)).toHaveLength(1);
    expect(out).not.toContain('abcdef04');
    expect(out).toContain('abcdef05  SUCCESS');
  });

  const stats: InvocationStats = {
    functionId: FN.id,
    from: null,
    to: null,
    invocations: 12,
    successes: 11,
    failures: 1,
    errorRate: 1 / 12,
    coldStarts: 2,
    durationMs: { p50: 12, p90: 40, p95: 55.5, p99: 1234, avg: 30, max: 1500 },
    series: [{ start: '2026-01-31T12:00:00.000Z', invocations: 12, failures: 1, p50: 12, p95: 55 }],
  };

  it('prints invocation statistics', async () => {
    gw.on('GET', '/api/v1/functions/:id/stats', () => ({ body: stats }));
    const r = await hks(['function', 'stats', 'hello-world'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'Function:     hello-world',
        'Period:       all time',
        'Invocations:  12',
        'Errors:       1',
        'Error rate:   8.33%',
        'Cold starts:  2',
        'Duration p50: 12 ms',
        'Duration p95: 56 ms',
        'Duration p99: 1.23 s',
        'Duration max: 1.50 s',
        '',
      ].join('\n'),
    );
    expect(gw.requests.at(-1)?.path).toBe(`/api/v1/functions/${FN.id}/stats`);
    const json = await hks(['function', 'stats', 'hello-world', '-o', 'json'], { gateway: gw.url });
    expect(JSON.parse(json.stdout)).toEqual(stats);
  });

  it('prints each version side by side with --by version, and refuses a dimension it does not know', async () => {
    const byVersion: InvocationStats = {
      ...stats,
      series: undefined,
      versions: [
        {
          version: 2,
          invocations: 10,
          successes: 10,
          failures: 0,
          errorRate: 0,
          coldStarts: 1,
          durationMs: { ...stats.durationMs, p50: 11, p95: 20, p99: 30 },
        },
        {
          version: 1,
          invocations: 2,
          successes: 1,
          failures: 1,
          errorRate: 0.5,
          coldStarts: 1,
          durationMs: { ...stats.durationMs, p50: 900, p95: 1400, p99: 1500 },
        },
      ],
    };
    gw.on('GET', '/api/v1/functions/:id/stats', (req) => ({ body: req.query.by === 'version' ? byVersion : stats }));
    const r = await hks(['function', 'stats', 'hello-world', '--by', 'version'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(gw.requests.at(-1)?.query).toMatchObject({ by: 'version' });
    const lines = r.stdout.split('\n');
    expect(lines[0]).toBe('Function:     hello-world');
    expect(lines.slice(-4)).toEqual([
      'VERSION  INVOCATIONS  ERRORS  ERROR RATE  COLD STARTS  P50     P95     P99',
      '2        10           0       0%          1            11 ms   20 ms   30 ms',
      '1        2            1       50%         1            900 ms  1.40 s  1.50 s',
      '',
    ]);
    const json = await hks(['function', 'stats', 'hello-world', '--by', 'version', '-o', 'json'], { gateway: gw.url });
    expect(JSON.parse(json.stdout)).toEqual(byVersion);
    const bad = await hks(['function', 'stats', 'hello-world', '--by', 'region'], { gateway: gw.url });
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("argument 'region' is invalid. Allowed choices are version");
  });

  it('prints metrics over a period with a time series', async () => {
    gw.on('GET', '/api/v1/functions/:id/stats', () => ({ body: stats }));
    const r = await hks(['function', 'metrics', 'hello-world', '--period', '7d'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rows of 6h');
    expect(r.stdout).toMatch(/START\s+INVOCATIONS\s+ERRORS\s+ERROR RATE\s+P50\s+P95\n2026-01-31 \d\d:00:00\s+12\s+1\s+8.33%\s+12 ms\s+55 ms\n/);
    const q = gw.requests.at(-1)!.query;
    expect(q.bucketSeconds).toBe(String(6 * 3600));
    expect(Date.parse(q.to) - Date.parse(q.from)).toBe(7 * 86_400_000);
    expect(bucketFor(3_600_000)).toBe(300);
    expect(bucketFor(86_400_000)).toBe(3600);
  });
});
