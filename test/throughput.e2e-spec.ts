import { Client } from 'pg';
import type { FunctionView } from '@platform/contracts';
import { api, RunningPlatform, startPlatform } from './support/platform';

/** Figures worth quoting, printed as they are (not as a jest console block). */
const report = (text: string) => process.stdout.write(`${text}\n`);

const CONNECTIONS = 32;
const INVOCATIONS = 3000;

/**
 * The throughput run of issue 10 as a test of completeness, not of speed: 32 clients call one warm function as fast as
 * the platform answers, and afterwards every answered invocation has its result event in the event store, once.
 */
describe('recording under a throughput run', () => {
  let p: RunningPlatform;
  let fnId: string;
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}` });

  async function until(probe: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!(await probe().catch(() => false))) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  beforeAll(async () => {
    p = await startPlatform();
    const created = await call<FunctionView>('POST', '/api/v1/functions', {
      label: 'throughput-fn',
      runtime: 'node',
      template: 'node',
      handler: 'module.exports.handle = async (d) => ({ ok: true, n: d && d.n });\n',
    });
    expect(created.status).toBe(201);
    fnId = created.body.id;
    expect((await call('POST', `/api/v1/functions/build/${fnId}`)).status).toBe(202);
    await until(async () => (await call<FunctionView>('GET', `/api/v1/functions/${fnId}`)).body?.status === 'BUILT', 90_000, 'BUILT');
    expect([200, 202]).toContain((await call('POST', `/api/v1/functions/deploy/${fnId}`)).status);
    await until(async () => (await call<FunctionView>('GET', `/api/v1/functions/${fnId}`)).body?.status === 'READY', 90_000, 'READY');
  }, 240_000);

  afterAll(async () => {
    await p?.stop();
  }, 60_000);

  it(`stores the result event of each of ${INVOCATIONS} invocations made by ${CONNECTIONS} clients at once, none twice`, async () => {
    const answered = new Set<string>();
    const statuses: Record<number, number> = {};
    let next = 0;
    const started = Date.now();
    await Promise.all(
      Array.from({ length: CONNECTIONS }, async () => {
        while (next < INVOCATIONS) {
          const n = next++;
          const res = await fetch(`${p.gatewayUrl}/api/v1/functions/invoke/${fnId}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', authorization: `Bearer ${p.adminKey}` },
            body: JSON.stringify({ data: { n } }),
            signal: AbortSignal.timeout(30_000),
          });
          await res.text();
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          const id = res.headers.get('x-invocation-id');
          if (res.status === 200 && id) answered.add(id);
        }
      }),
    );
    const loadMs = Date.now() - started;
    expect(statuses).toEqual({ 200: INVOCATIONS });

    const pg = new Client({ connectionString: p.env.DATABASE_URL });
    await pg.connect();
    try {
      const ids = [...answered];
      const stored = async () =>
        (
          await pg.query<{ invocation_id: string; n: string }>(
            `SELECT invocation_id::text, count(*) AS n FROM events.events WHERE invocation_id = ANY($1::uuid[]) AND status <> 'PENDING' GROUP BY invocation_id`,
            [ids],
          )
        ).rows;
      let rows = await stored();
      const deadline = Date.now() + 60_000;
      while (rows.length < ids.length && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        rows = await stored();
      }
      const lagMs = Date.now() - started - loadMs;
      report(
        `throughput run: ${INVOCATIONS} invocations by ${CONNECTIONS} clients in ${loadMs} ms (through the conformance proxy); ` +
          `${rows.length} result events stored, all within ${lagMs} ms of the last answer`,
      );
      expect(rows.length).toBe(ids.length);
      expect(rows.filter((r) => r.n !== '1')).toEqual([]);
    } finally {
      await pg.end();
    }
  }, 180_000);
});
