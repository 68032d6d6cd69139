import { execFile } from 'child_process';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import amqplib from 'amqplib';
import { Client } from 'pg';
import type { EventPage, FunctionView, InvocationPage } from '@platform/contracts';
import { RunningPlatform, startPlatform } from './support/platform';
import { platformClient, sleep, startSecondDeployer, until } from './support/invocations';

const BIN = path.resolve(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
const DOC = path.resolve(__dirname, 'fixtures', 'doc');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The product doc's event sources as a user meets them: its three function.yaml files deployed verbatim with
 * `hks function deploy`, messages from a plain AMQP client, a posted custom event, and a schedule whose ticks run
 * once each while a second deployer is killed -9 in the middle of runs.
 */
describe('event sources end to end: the doc’s function.yaml files, and one run per tick across deployers', () => {
  let p: RunningPlatform;
  let work: string;
  let home: string;
  const client = platformClient(() => p);

  function hks(args: string[], cwd: string, env: Record<string, string> = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HKS_GATEWAY_URL: p.gatewayUrl, ...env }, timeout: 180_000 },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
  }

  /** What `hks function deploy` printed of the last fixture deployed. */
  let printed = '';

  /** A copy of a doc fixture, deployed as it is (`name` given: deployed under that name). */
  async function deployFixture(fixture: string, name?: string, env: Record<string, string> = {}): Promise<FunctionView> {
    const dir = path.join(work, name ?? fixture);
    cpSync(path.join(DOC, fixture), dir, { recursive: true });
    const r = await hks(['function', 'deploy', ...(name ? [name] : [])], dir, env);
    if (r.code !== 0) throw new Error(`hks function deploy ${fixture} exited ${r.code}: ${r.stderr}${r.stdout}`);
    printed = r.stdout;
    const label = name ?? fixture;
    return (await client.call<FunctionView>('GET', `/api/v1/functions/${label}`)).body;
  }

  const invocations = async (functionId: string, status?: string) =>
    (await client.call<InvocationPage>('GET', `/api/v1/invocations?functionId=${functionId}&limit=500${status ? `&status=${status}` : ''}`)).body.items;

  beforeAll(async () => {
    p = await startPlatform({
      // Short leases: the second deployer's attempts are taken back soon after it is killed.
      DEPLOYER_ASYNC_LEASE_MS: '3000',
      DEPLOYER_ASYNC_LEASE_RENEW_MS: '1000',
      DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '200',
    });
    work = mkdtempSync(path.join(tmpdir(), 'hks-sources-'));
    home = path.join(work, 'home');
    mkdirSync(home);
    const login = await hks(['login', '--api-key', p.adminKey], work);
    expect(login.code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    await p?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('hello-api: the doc’s http trigger (methods, path, auth: required), memory 256MB, timeout 30s and environment', async () => {
    const f = await deployFixture('hello-api', undefined, { DATABASE_URL: 'postgres://app@db.example/app' });
    expect(f.config).toMatchObject({
      resources: { memoryMb: 256, timeoutMs: 30_000 },
      env: { LOG_LEVEL: 'info', DATABASE_URL: 'postgres://app@db.example/app' },
    });
    const url = `${p.gatewayUrl}/fn/hello-api/api/hello`;
    // The URL hks prints is the one its http trigger serves.
    expect(printed).toContain(`URL:    ${url}\n`);
    const auth = { authorization: `Bearer ${p.adminKey}` };

    const ok = await fetch(url, { headers: auth });
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ message: 'hello', log_level: 'info' });
    expect((await fetch(url, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: '{}' })).status).toBe(200);
    // auth: required, methods [GET, POST], path /api/hello.
    expect((await fetch(url)).status).toBe(401);
    const wrongMethod = await fetch(url, { method: 'DELETE', headers: auth });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toContain('POST');
    expect((await fetch(`${p.gatewayUrl}/fn/hello-api/other`, { headers: auth })).status).toBe(404);
  }, 180_000);

  it('order-processor: messages a plain AMQP client publishes to order-events each reach the doc’s handler once (JSON.parse(event.data))', async () => {
    const f = await deployFixture('order-processor');
    expect(f.config?.triggers).toEqual([{ type: 'queue', source: 'order-events', batchSize: 10, maxBatchWaitMs: 5000 }]);
    // No http trigger: /fn/ does not serve it, so hks prints its invoke route, not a /fn/ URL.
    expect((await fetch(`${p.gatewayUrl}/fn/order-processor`, { headers: { authorization: `Bearer ${p.adminKey}` } })).status).toBe(404);
    expect(printed).not.toContain('/fn/');
    expect(printed).toContain(`Invoke API: POST ${p.gatewayUrl}/api/v1/functions/invoke/order-processor\n`);
    const conn = await amqplib.connect(p.env.AMQP_URL);
    try {
      const ch = await conn.createConfirmChannel();
      const queue = `${p.env.HKS_NAMESPACE}.order-events`;
      for (let i = 1; i <= 5; i++) ch.sendToQueue(queue, Buffer.from(JSON.stringify({ id: `o-${i}` })), { persistent: true, messageId: `order-${i}` });
      await ch.waitForConfirms();
      const done = await until(
        async () => {
          const items = await invocations(f.id, 'succeeded');
          return items.length >= 5 ? items : undefined;
        },
        'five orders processed',
        60_000,
      );
      expect(done).toHaveLength(5);
      expect(done.every((i) => i.source === 'queue')).toBe(true);
      const results = await Promise.all(
        done.map(async (i) => (await client.call<{ result: { body: string } }>('GET', `/api/v1/invocations/${i.id}`)).body.result.body),
      );
      expect(results.map((b) => JSON.parse(b).processed).sort()).toEqual(['o-1', 'o-2', 'o-3', 'o-4', 'o-5']);
      expect((await ch.checkQueue(queue)).messageCount).toBe(0);

      // Undeployed: the queue keeps what comes meanwhile.
      expect((await hks(['function', 'undeploy', 'order-processor'], work)).code).toBe(0);
      await until(async () => ((await ch.checkQueue(queue)).consumerCount === 0 ? true : undefined), 'no consumer left', 15_000);
      ch.sendToQueue(queue, Buffer.from('{"id":"o-6"}'), { persistent: true });
      await ch.waitForConfirms();
      await sleep(1000);
      expect((await ch.checkQueue(queue)).messageCount).toBe(1);
      await ch.deleteQueue(queue);
    } finally {
      await conn.close();
    }
  }, 180_000);

  it('a custom event posted to /api/v3/events reaches the doc’s event processor: event.get("type"), event.get("data")["email"]', async () => {
    const dir = path.join(work, 'welcome-email');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'function.yaml'),
      'name: welcome-email\nruntime: python3.9\nhandler: main.handle\ntriggers:\n  - type: event\n    event_type: user_registered\n',
    );
    writeFileSync(
      path.join(dir, 'main.py'),
      'def handle(event, context):\n    if event.get("type") == "user_registered":\n        return {"sent_to": event.get("data")["email"]}\n    return {"ignored": True}\n',
    );
    const r = await hks(['function', 'deploy'], dir);
    expect(r.code).toBe(0);
    const f = (await client.call<FunctionView>('GET', '/api/v1/functions/welcome-email')).body;
    const posted = await client.call('POST', '/api/v3/events', { type: 'user_registered', source: 'signup-form', payload: { email: 'new@example.com' } });
    expect(posted.status).toBe(201);
    const [done] = await until(
      async () => {
        const items = await invocations(f.id, 'succeeded');
        return items.length ? items : undefined;
      },
      'the event processor',
      60_000,
    );
    const view = (await client.call<{ result: { body: string }; source: string }>('GET', `/api/v1/invocations/${done.id}`)).body;
    expect(view.source).toBe('event');
    expect(JSON.parse(view.result.body)).toEqual({ sent_to: 'new@example.com' });
  }, 180_000);

  it('daily-cleanup deploys verbatim; its copy with the cron shortened runs on each tick, with the tick as the event time', async () => {
    const daily = await deployFixture('daily-cleanup');
    expect(daily.config).toMatchObject({
      resources: { memoryMb: 512, timeoutMs: 300_000 },
      triggers: [{ type: 'schedule', cron: '0 2 * * *', timezone: 'Asia/Tokyo' }],
    });
    const fast = await deployFixture('daily-cleanup-fast', 'daily-cleanup-fast');
    const ran = await until(
      async () => {
        const items = await invocations(fast.id, 'succeeded');
        return items.length >= 2 ? items : undefined;
      },
      'two ticks run',
      60_000,
    );
    const view = (await client.call<{ result: { body: string } }>('GET', `/api/v1/invocations/${ran[0].id}`)).body;
    expect(JSON.parse(view.result.body)).toMatchObject({ cleaned: true, tick: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d[02468]\.000Z$/) });
    expect((await hks(['function', 'undeploy', 'daily-cleanup-fast'], work)).code).toBe(0);
    expect((await hks(['function', 'undeploy', 'daily-cleanup'], work)).code).toBe(0);
  }, 180_000);

  it('runs each tick once while two deployers share the work and one of them is killed -9 during runs', async () => {
    const dir = path.join(work, 'ticker');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'function.yaml'),
      'name: ticker\nruntime: python3.9\nhandler: main.handle\ntriggers:\n  - type: schedule\n    cron: "* * * * * *"\nscaling:\n  concurrency: 8\n',
    );
    // Each run lasts 1.5 s: at any moment some runs are under way, on either deployer.
    writeFileSync(path.join(dir, 'main.py'), 'import time\n\ndef handle(event, context):\n    time.sleep(1.5)\n    return {"tick": event.get("time")}\n');

    const second = await startSecondDeployer(p);
    const replica = second.process;
    try {
      expect((await hks(['function', 'deploy'], dir)).code).toBe(0);
      const f = (await client.call<FunctionView>('GET', '/api/v1/functions/ticker')).body;
      await sleep(3_000);
      // Killed while it runs attempts: the ones it owns then are taken back by the other deployer.
      const db = new Client({ connectionString: p.env.DATABASE_URL });
      await db.connect();
      let orphaned: string[] = [];
      try {
        orphaned = await until(
          async () => {
            const { rows } = await db.query<{ id: string }>(`SELECT id FROM deployer.invocations WHERE status = 'running' AND owner LIKE $1`, [
              `%:${replica.pid}:%`,
            ]);
            return rows.length ? rows.map((r) => r.id) : undefined;
          },
          'an attempt running on the second deployer',
          20_000,
        );
        replica.kill('SIGKILL');
      } finally {
        await db.end();
      }
      await second.exited;
      await sleep(6_000);
      expect((await hks(['function', 'undeploy', 'ticker'], work)).code).toBe(0);

      // Every accepted tick ends, and ends once: one invocation per tick, one recorded run per invocation.
      const all = await until(
        async () => {
          const items = await invocations(f.id);
          return items.length && items.every((i) => ['succeeded', 'failed', 'dead'].includes(i.status)) ? items : undefined;
        },
        'every tick ended',
        60_000,
      );
      const ticks = all.map((i) => i.idempotencyKey);
      expect(new Set(ticks).size).toBe(ticks.length);
      expect(all.length).toBeGreaterThanOrEqual(8);
      const runs = new Map<string, number>();
      await until(
        async () => {
          runs.clear();
          const page = (await client.call<EventPage>('GET', `/api/v3/events?functionId=${f.id}&type=FUNCTION_INVOCATION&status=SUCCESS&limit=500`)).body;
          for (const e of page.items) if (e.invocationId) runs.set(e.invocationId, (runs.get(e.invocationId) ?? 0) + 1);
          return all.every((i) => runs.has(i.id)) ? true : undefined;
        },
        'a recorded run of every tick',
        30_000,
      );
      const twice = [...runs].filter(([, n]) => n > 1);
      expect(orphaned.every((id) => all.some((i) => i.id === id))).toBe(true);
      process.stdout.write(`ticks: ${all.length}; attempts running on the killed deployer: ${orphaned.length}; ran twice: ${twice.length}\n`);
      expect({ ranTwice: twice, notSucceeded: all.filter((i) => i.status !== 'succeeded').map((i) => `${i.id} ${i.status}`) }).toEqual({
        ranTwice: [],
        notSucceeded: [],
      });
    } catch (err) {
      throw new Error(`${(err as Error).message}\nthe second deployer's output (its end):\n${second.output()}`);
    } finally {
      replica.kill('SIGKILL');
    }
  }, 240_000);
});
