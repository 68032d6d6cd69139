import { AMQP_URL, REDIS_URL, TcpProxy } from '@platform/testing';
import { createTestDatabase } from '@platform/testing';
import type { FunctionView } from '@platform/contracts';
import { api, RunningPlatform, startPlatform } from './support/platform';

/** Figures worth quoting, printed as they are (not as a jest console block). */
const report = (text: string) => process.stdout.write(`${text}\n`);

/**
 * Postgres, RabbitMQ and Redis reached through TCP proxies this test owns: cutting one gives 503 naming it on every
 * route (never a 500 or 502), and the platform is whole again once it is back. Supervision restarts a killed service.
 */
describe('a dependency that is down', () => {
  let p: RunningPlatform;
  let pg: TcpProxy & { url: string };
  let amqp: TcpProxy & { url: string };
  let redis: TcpProxy & { url: string };
  let dbDrop: () => Promise<void>;
  let fnId: string;
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}` });

  beforeAll(async () => {
    const db = await createTestDatabase('hks_dep');
    dbDrop = db.drop;
    pg = await TcpProxy.forUrl(db.url).start();
    amqp = await TcpProxy.forUrl(AMQP_URL).start();
    redis = await TcpProxy.forUrl(REDIS_URL).start();
    // One process per service: each is stopped and killed on its own here.
    p = await startPlatform({
      HKS_PROCESSES: 'each',
      DATABASE_URL: pg.url,
      AMQP_URL: amqp.url,
      REDIS_URL: redis.url,
      RPC_TIMEOUT_MS: '8000',
      BUILD_QUEUE_TIMEOUT_MS: '2000',
    });
    const created = await call<FunctionView>('POST', '/api/v1/functions', {
      label: 'dep-fn',
      template: 'typescript',
      runtime: 'node',
      handler: 'export default (d) => d;',
    });
    expect(created.status).toBe(201);
    fnId = created.body.id;
  }, 180_000);

  afterAll(async () => {
    // stop() throws when answers differed from the OpenAPI document: clean up all the same.
    try {
      await p?.stop();
    } finally {
      await Promise.all([pg, amqp, redis].map((x) => x?.stop()));
      await dbDrop?.().catch(() => undefined);
    }
  }, 60_000);

  /** One request per API route; none may answer 500 or 502. */
  const routes = () =>
    [
      ['GET', '/api/v1/functions'],
      ['GET', `/api/v1/functions/${fnId}`],
      ['PUT', `/api/v1/functions/${fnId}`, { description: 'x' }],
      ['POST', '/api/v1/functions', { label: `dep-${Date.now()}`, template: 'typescript', runtime: 'node', handler: 'export default (d) => d;' }],
      ['POST', `/api/v1/functions/build/${fnId}`],
      ['GET', `/api/v1/functions/${fnId}/builds`],
      ['GET', `/api/v1/functions/${fnId}/stats`],
      ['GET', '/api/v1/secrets'],
      ['PUT', '/api/v1/secrets/dep-secret', { values: { K: 'v' } }],
      ['GET', `/api/v3/events?functionId=${fnId}`],
    ] as Array<[string, string, unknown?]>;

  async function duringCut(proxy: TcpProxy, name: string, mustName: Array<[string, string, unknown?]>) {
    proxy.cut();
    try {
      for (const [m, u, b] of mustName) {
        const r = await call(m, u, b);
        expect({ route: `${m} ${u}`, status: r.status }).toEqual({ route: `${m} ${u}`, status: 503 });
        expect(r.body.message).toContain(name);
      }
      for (const [m, u, b] of routes()) {
        const r = await call(m, u, b);
        expect({ route: `${m} ${u}`, status: r.status, fine: r.status < 500 || r.status === 503 }).toMatchObject({ fine: true });
        if (r.status === 503) expect(r.body.message).toMatch(/Postgres|RabbitMQ|Redis|did not answer|unreachable|unavailable/);
      }
    } finally {
      proxy.restore();
    }
    // Everything answers again once the dependency is back.
    const deadline = Date.now() + 30_000;
    for (;;) {
      const r = await call('GET', `/api/v1/functions/${fnId}`);
      if (r.status === 200) break;
      if (Date.now() > deadline) throw new Error(`after ${name} came back: ${r.status} ${r.text}`);
      await new Promise((res) => setTimeout(res, 250));
    }
  }

  it('answers 503 naming Postgres while Postgres is cut', async () => {
    await duringCut(pg, 'Postgres', [
      ['GET', '/api/v1/functions'],
      ['GET', `/api/v1/functions/${fnId}`],
    ]);
  }, 90_000);

  it('answers 503 naming RabbitMQ while RabbitMQ is cut', async () => {
    await duringCut(amqp, 'RabbitMQ', [['GET', '/api/v1/functions']]);
  }, 90_000);

  it('answers 503 naming Redis when a build cannot be queued while Redis is cut', async () => {
    await duringCut(redis, 'Redis', [['POST', `/api/v1/functions/build/${fnId}`]]);
  }, 90_000);

  it('drains each service on SIGTERM well within the grace period, exiting cleanly (and supervision starts it again)', async () => {
    const took: Record<string, number> = {};
    for (const service of ['event-store', 'function-registry', 'builder', 'deployer', 'invoker', 'gateway']) {
      const t0 = Date.now();
      const exit = await p.kill(service, 'SIGTERM');
      took[service] = Date.now() - t0;
      // Nest re-raises the signal once its shutdown hooks are done; the grace watchdog would exit with code 1.
      expect({ service, clean: exit?.code === 0 || exit?.signal === 'SIGTERM' }).toEqual({ service, clean: true });
      await p.waitReady(service, 60_000);
    }
    report(`SIGTERM to exit, ms: ${JSON.stringify(took)}`);
    for (const ms of Object.values(took)) expect(ms).toBeLessThan(8000);
    expect((await call('GET', `/api/v1/functions/${fnId}`)).status).toBe(200);
  }, 120_000);

  it('restarts a service killed with SIGKILL, and keeps every other service running', async () => {
    const before = p.exits();
    const exit = await p.kill('function-registry');
    expect(exit).toEqual({ code: null, signal: 'SIGKILL' });
    await p.waitReady('function-registry', 60_000);
    const r = await call('GET', `/api/v1/functions/${fnId}`);
    expect(r.status).toBe(200);
    const after = p.exits();
    for (const name of Object.keys(after)) if (name !== 'function-registry') expect(after[name].length).toBe(before[name].length);
  }, 90_000);

  // Last: it leaves the builder down for good.
  it('gives up on a service that keeps crashing right after it starts, leaving the others running', async () => {
    // Five crashes in a row within 10 s of a start make the supervisor give up. The first kill may end a run that
    // lasted longer, which does not count, so kill until it gives up (at most 6 kills).
    const gaveUp = async () => ((await p.waitReady('builder', 1).catch((e: Error) => e.message)) ?? '').includes('down for good');
    let kills = 0;
    while (kills < 6 && !(await gaveUp())) {
      // Wait for the supervisor to have started it again (any process), then kill it before it has run 10 s.
      const deadline = Date.now() + 30_000;
      let exit = await p.kill('builder');
      while (exit === null && Date.now() < deadline && !(await gaveUp())) {
        await new Promise((r) => setTimeout(r, 50));
        exit = await p.kill('builder');
      }
      if (exit) kills++;
    }
    expect(kills).toBeGreaterThanOrEqual(5);
    await expect(p.waitReady('builder', 20_000)).rejects.toThrow(/down for good: it kept crashing/);
    expect((await call('GET', `/api/v1/functions/${fnId}`)).status).toBe(200);
  }, 90_000);
});
