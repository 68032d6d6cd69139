import { Client } from 'pg';
import { AMQP_URL, createTestDatabase, REDIS_URL, TcpProxy } from '@platform/testing';
import type { FunctionView } from '@platform/contracts';
import { api, RunningPlatform, startPlatform } from './support/platform';

/** Figures worth quoting, printed as they are (not as a jest console block). */
const report = (text: string) => process.stdout.write(`${text}\n`);

/**
 * Faults under a steady invocation load: kill -9 of each service in turn (supervision restarts it), then a cut of
 * the Postgres, RabbitMQ and Redis connections (TCP proxies this test owns) for a few seconds each. Afterwards every
 * answered invocation must have its result event in the event store (a PENDING one too when it ran past the threshold),
 * and none may be stored twice.
 */
const SERVICES = ['event-store', 'function-registry', 'builder', 'deployer', 'invoker', 'gateway'];
const CUT_MS = 3000;
const LOAD_CONCURRENCY = 3;
const MAX_INVOCATIONS = 8000;

/**
 * Both shapes of the platform: one process per service (as in a cluster: each is killed in turn while the others
 * go on), and the local default of all six in one process (killed once: everything restarts at once).
 */
describe.each([
  { processes: 'each', kills: SERVICES },
  { processes: 'one', kills: ['invoker'] },
])('faults under load, HKS_PROCESSES=$processes', ({ processes, kills }) => {
  let p: RunningPlatform;
  let db: { name: string; url: string; drop: () => Promise<void> };
  const proxies: Record<string, TcpProxy & { url: string }> = {};
  let fnId: string;
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}` });

  beforeAll(async () => {
    db = await createTestDatabase('hks_faults');
    proxies.Postgres = await TcpProxy.forUrl(db.url).start();
    proxies.RabbitMQ = await TcpProxy.forUrl(AMQP_URL).start();
    proxies.Redis = await TcpProxy.forUrl(REDIS_URL).start();
    p = await startPlatform({
      HKS_PROCESSES: processes,
      DATABASE_URL: proxies.Postgres.url,
      AMQP_URL: proxies.RabbitMQ.url,
      REDIS_URL: proxies.Redis.url,
      RPC_TIMEOUT_MS: '5000',
    });
    const created = await call<FunctionView>('POST', '/api/v1/functions', {
      label: 'faults-fn',
      template: 'typescript',
      runtime: 'node',
      handler: 'export default (d) => d;',
    });
    expect(created.status).toBe(201);
    fnId = created.body.id;
    expect((await call('POST', `/api/v1/functions/build/${fnId}`)).status).toBe(202);
    await until(async () => (await call('GET', `/api/v1/functions/${fnId}`)).body?.status === 'BUILT', 90_000, 'BUILT');
    expect([200, 202]).toContain((await call('POST', `/api/v1/functions/deploy/${fnId}`)).status);
    await until(async () => (await call('GET', `/api/v1/functions/${fnId}`)).body?.status === 'READY', 90_000, 'READY');
  }, 240_000);

  afterAll(async () => {
    // stop() throws when answers differed from the OpenAPI document: clean up all the same.
    try {
      await p?.stop();
    } finally {
      await Promise.all(Object.values(proxies).map((x) => x.stop()));
      await db?.drop().catch(() => undefined);
    }
  }, 60_000);

  async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('keeps the events of every answered invocation through kill -9 of each service and cuts of each dependency', async () => {
    const answered = new Map<string, string>();
    let phase = 'steady';
    const statuses: Record<string, number> = {};
    let unanswered = 0;
    const odd: string[] = [];
    let running = true;
    let n = 0;
    const load = Promise.all(
      Array.from({ length: LOAD_CONCURRENCY }, async () => {
        while (running && n < MAX_INVOCATIONS) {
          n++;
          try {
            const res = await fetch(`${p.gatewayUrl}/api/v1/functions/invoke/${fnId}`, {
              method: 'POST',
              headers: { 'content-type': 'application/json', authorization: `Bearer ${p.adminKey}` },
              body: JSON.stringify({ data: { n } }),
              signal: AbortSignal.timeout(15_000),
            });
            const text = await res.text();
            if (res.status >= 500 && res.status !== 503 && odd.length < 5) odd.push(`${res.status} ${text.slice(0, 200)}`);
            statuses[res.status] = (statuses[res.status] ?? 0) + 1;
            const id = res.headers.get('x-invocation-id');
            if (id) answered.set(id, `${res.status} during ${phase}`);
          } catch {
            unanswered++;
          }
          await new Promise((r) => setTimeout(r, 40));
        }
      }),
    );

    const faults: string[] = [];
    await new Promise((r) => setTimeout(r, 1000));
    for (const service of kills) {
      phase = `kill -9 ${service}${processes === 'one' ? ' (the process of all six)' : ''}`;
      const exit = await p.kill(service);
      faults.push(`kill -9 ${service}: ${exit?.signal}`);
      await p.waitReady(service, 60_000);
      await new Promise((r) => setTimeout(r, 1500));
    }
    for (const [name, proxy] of Object.entries(proxies)) {
      phase = `cut ${name}`;
      proxy.cut();
      await new Promise((r) => setTimeout(r, CUT_MS));
      proxy.restore();
      faults.push(`cut ${name} for ${CUT_MS} ms`);
      await new Promise((r) => setTimeout(r, 2000));
    }
    phase = 'steady';
    running = false;
    await load;

    // The events of the last answers may still be on their way: wait until the count stops growing (at most 30 s).
    const pg = new Client({ connectionString: db.url });
    await pg.connect();
    try {
      const ids = [...answered.keys()];
      const missing = async () => {
        const r = await pg.query<{ invocation_id: string; statuses: string[] }>(
          `SELECT invocation_id::text, array_agg(status) AS statuses FROM events.events WHERE invocation_id = ANY($1::uuid[]) GROUP BY invocation_id`,
          [ids],
        );
        const seen = new Map(r.rows.map((row) => [row.invocation_id, row.statuses]));
        return ids.filter((id) => {
          const s = seen.get(id) ?? [];
          return !s.some((x) => x !== 'PENDING');
        });
      };
      let lost = await missing();
      const deadline = Date.now() + 30_000;
      while (lost.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 1000));
        lost = await missing();
      }
      const dup = await pg.query<{ invocation_id: string; status: string; n: string }>(
        `SELECT invocation_id::text, status, count(*) AS n FROM events.events WHERE invocation_id IS NOT NULL GROUP BY invocation_id, status HAVING count(*) > 1`,
      );
      const restarts = Object.fromEntries(Object.entries(p.exits()).map(([k, v]) => [k, v.length]));
      report(
        [
          `faults: ${faults.join('; ')}`,
          `invocations sent ${n}, answered with an x-invocation-id ${answered.size}, no answer (network) ${unanswered}, by status ${JSON.stringify(statuses)}${odd.length ? `; other 5xx: ${odd.join(' | ')}` : ''}`,
          `service exits ${JSON.stringify(restarts)}`,
          `answered invocations without their result event: ${lost.length}${
            lost.length
              ? ` (${lost
                  .slice(0, 10)
                  .map((id) => `${id}: ${answered.get(id)}`)
                  .join(', ')})`
              : ''
          }`,
          `duplicate events (same invocationId and status stored twice): ${dup.rows.length}`,
        ].join('\n'),
      );
      expect(answered.size).toBeGreaterThan(50);
      expect(lost).toEqual([]);
      expect(dup.rows).toEqual([]);
    } finally {
      await pg.end();
    }
  }, 240_000);
});
