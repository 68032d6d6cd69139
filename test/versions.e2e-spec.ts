import amqplib from 'amqplib';
import * as net from 'net';
import type { DeploymentView, FunctionVersionView, FunctionView, InvocationStats, TrafficView } from '@platform/contracts';
import { api, RunningPlatform, startPlatform } from './support/platform';
import { sleep, until } from './support/invocations';

/** A Python handler that says which version it is (and fails when asked to). */
const handler = (version: number, fails = false) =>
  ['def handle(event):', fails ? `    raise RuntimeError('version ${version} is broken')` : `    return {'v': ${version}}`, ''].join('\n');

/**
 * Versions, rollback, aliases, traffic splits and canaries, through the gateway as users call them, with the six
 * services as processes: the split is measured on the invoke API, a queue trigger and a schedule.
 */
describe('versions, aliases, rollback and traffic splitting end to end', () => {
  let p: RunningPlatform;
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers?: Record<string, string>) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}`, ...headers });
  const fn = (id: string) => call<FunctionView>('GET', `/api/v1/functions/${id}`);

  /** Builds the function's current version and waits for the outcome. */
  async function build(id: string): Promise<FunctionView> {
    expect((await call('POST', `/api/v1/functions/build/${id}`)).status).toBe(202);
    return until(
      async () => {
        const f = (await fn(id)).body;
        return f.status === 'BUILT' || f.status === 'FAILED' ? f : undefined;
      },
      'the build to end',
      60_000,
    );
  }

  async function deploy(id: string, version?: number): Promise<DeploymentView> {
    const r = await call<DeploymentView>('POST', `/api/v1/functions/deploy/${id}`, version ? { version } : undefined);
    expect({ status: r.status, body: r.body }).toMatchObject({ status: 200, body: { status: 'READY' } });
    return r.body;
  }

  async function newVersion(id: string, code: string, fails = false): Promise<FunctionView> {
    const r = await call<FunctionView>('PUT', `/api/v1/functions/${id}`, { handler: code });
    expect(r.status).toBe(200);
    const built = await build(id);
    if (!fails) expect(built.status).toBe('BUILT');
    return built;
  }

  /** n data-style invocations, `parallel` at a time: the version each answer came from, by count. */
  async function invokeMany(url: string, n: number, headers: (i: number) => Record<string, string> = () => ({}), parallel = 8): Promise<Map<number, number>> {
    const counts = new Map<number, number>();
    let next = 0;
    const worker = async () => {
      while (next < n) {
        const i = next++;
        const r = await call<{ v: number }>('POST', url, { data: i }, headers(i));
        expect(r.status).toBe(200);
        const v = Number(r.headers.get('x-function-version'));
        // The header and the handler agree on who answered.
        expect(r.body.v).toBe(v);
        counts.set(v, (counts.get(v) ?? 0) + 1);
      }
    };
    await Promise.all(Array.from({ length: parallel }, worker));
    return counts;
  }

  let shop: string;

  beforeAll(async () => {
    p = await startPlatform({ DEPLOYER_ASYNC_PUMP_INTERVAL_MS: '200' });
    const created = await call<FunctionView>('POST', '/api/v1/functions', { label: 'shop', runtime: 'python', handler: handler(1) });
    expect(created.status).toBe(201);
    shop = created.body.id;
    expect((await build(shop)).status).toBe('BUILT');
    await deploy(shop);
    await newVersion(shop, handler(2));
    expect((await deploy(shop)).version).toBe(2);
  }, 240_000);

  afterAll(async () => {
    await p?.stop();
  }, 60_000);

  it('lists every version with its config and build digest, answers one with its code, and 404s one that does not exist', async () => {
    const list = await call<FunctionVersionView[]>('GET', '/api/v1/functions/shop/versions');
    expect(list.status).toBe(200);
    expect(list.body.map((v) => v.version)).toEqual([2, 1]);
    for (const v of list.body) expect(v).toMatchObject({ buildStatus: 'SUCCEEDED', bundleDigest: expect.stringMatching(/^sha256:/) });
    expect(list.body[0].bundleDigest).not.toBe(list.body[1].bundleDigest);
    const one = await call<FunctionVersionView>('GET', `/api/v1/functions/${shop}/versions/1`);
    expect(one.body.handler).toBe(handler(1));
    const missing = await call('GET', '/api/v1/functions/shop/versions/7');
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('function shop has no version 7 (its versions are 1 to 2; GET /api/v1/functions/' + shop + '/versions lists them)');
    expect((await call('GET', '/api/v1/functions/shop/versions/first')).status).toBe(400);
  });

  it('splits 90/10 across versions 1 and 2, measured over 1,000 invocations of the invoke API', async () => {
    const set = await call<TrafficView>('PUT', '/api/v1/functions/shop/traffic', {
      splits: [
        { version: 1, percent: 90 },
        { version: 2, percent: 10 },
      ],
    });
    expect(set.status).toBe(200);
    expect(set.body).toMatchObject({
      version: 2,
      versions: [1, 2],
      splits: [
        { version: 1, percent: 90 },
        { version: 2, percent: 10 },
      ],
      sticky: false,
    });
    const counts = await invokeMany('/api/v1/functions/invoke/shop', 1000);
    const share1 = (counts.get(1) ?? 0) / 1000;
    process.stdout.write(`90/10 split over 1000 invocations: v1 ${counts.get(1)}, v2 ${counts.get(2)}\n`);
    expect(share1).toBeGreaterThan(0.865);
    expect(share1).toBeLessThan(0.935);
    expect((counts.get(1) ?? 0) + (counts.get(2) ?? 0)).toBe(1000);

    // The event store sees both versions side by side.
    const stats = await until(async () => {
      const s = (await call<InvocationStats>('GET', '/api/v1/functions/shop/stats?by=version')).body;
      const total = (s.versions ?? []).reduce((n, v) => n + v.invocations, 0);
      return total >= 1000 ? s : undefined;
    }, 'stats of the 1000 invocations');
    expect(stats.versions!.map((v) => v.version)).toEqual([2, 1]);
    expect(stats.versions!.find((v) => v.version === 1)!.invocations).toBeGreaterThanOrEqual(counts.get(1)!);
  }, 120_000);

  it('invokes a version or an alias by qualifier in the path (/fn/shop:1) or the X-Function-Qualifier header, and 404s one not running', async () => {
    const alias = await call<TrafficView>('PUT', '/api/v1/functions/shop/aliases/stable', { version: 1 });
    expect(alias.status).toBe(200);
    expect(alias.body.aliases).toEqual({ latest: 2, stable: 1 });
    for (let i = 0; i < 20; i++) {
      expect((await call('POST', '/api/v1/functions/invoke/shop:2', { data: 1 })).body).toEqual({ v: 2 });
      expect((await call('GET', '/fn/shop:stable')).body).toEqual({ v: 1 });
      expect((await call('POST', '/api/v1/functions/invoke/shop', {}, { 'x-function-qualifier': 'latest' })).body).toEqual({ v: 2 });
    }
    const unknown = await call('GET', '/fn/shop:canary');
    expect(unknown.status).toBe(404);
    expect(unknown.body.message).toContain('no alias "canary"');
    expect((await call('GET', '/fn/shop:7')).status).toBe(404);
    expect((await call('PUT', '/api/v1/functions/shop/aliases/latest', { version: 1 })).status).toBe(400);
    expect((await call('PUT', '/api/v1/functions/shop/aliases/stable', { version: 9 })).status).toBe(404);
  });

  /** A request with bytes fetch would refuse to send (a UTF-8 header value), over a plain socket: its status and text. */
  function rawRequest(head: string): Promise<{ status: number; text: string }> {
    const url = new URL(p.gatewayUrl);
    return new Promise((resolve, reject) => {
      const socket = net.connect(Number(url.port), url.hostname);
      let received = Buffer.alloc(0);
      const done = () => {
        const text = received.toString('utf8');
        socket.destroy();
        resolve({ status: Number(text.split(' ')[1]), text });
      };
      socket.on('data', (c: Buffer) => {
        received = Buffer.concat([received, c]);
        // The whole answer is in once its headers and content-length bytes of body are.
        const end = received.indexOf('\r\n\r\n');
        const length = /content-length: *(\d+)/i.exec(received.subarray(0, Math.max(end, 0)).toString('latin1'));
        if (end !== -1 && length && received.length >= end + 4 + Number(length[1])) done();
      });
      socket.on('end', done);
      socket.on('error', reject);
      socket.write(Buffer.from(`${head}\r\nHost: ${url.host}\r\nAuthorization: Bearer ${p.adminKey}\r\n\r\n`, 'utf8'));
    });
  }

  it('answers a version number that is no whole number from 1 to 2147483647 with a 400 everywhere, and a malformed qualifier with a 400 naming the rule', async () => {
    const range = 'a whole number from 1 to 2147483647';
    for (const n of ['2147483648', '99999999999999999999', '0', '-1', '1.5']) {
      const r = await call('GET', `/api/v1/functions/shop/versions/${n}`);
      expect([n, r.status, r.body.message]).toEqual([n, 400, `the version in the path must be ${range}, not "${n}"`]);
    }
    expect((await call('GET', '/api/v1/functions/shop/versions/2147483647')).status).toBe(404);
    for (const version of [2 ** 31, 1e20, 0, 1.5]) {
      const deploy = await call('POST', `/api/v1/functions/deploy/${shop}`, { version });
      expect([version, deploy.status]).toEqual([version, 400]);
      expect(JSON.stringify(deploy.body.message)).toContain(`version must be ${range}`);
      const rollback = await call('POST', '/api/v1/functions/shop/rollback', { to: version });
      expect([version, rollback.status]).toEqual([version, 400]);
      expect(JSON.stringify(rollback.body.message)).toContain(`to must be ${range}`);
      const alias = await call('PUT', '/api/v1/functions/shop/aliases/big', { version });
      expect([version, alias.status]).toEqual([version, 400]);
    }
    for (const q of ['2147483648', '0', 'v99999999999']) {
      const r = await call('GET', `/fn/shop:${q}`);
      expect([q, r.status, r.body.message]).toEqual([q, 400, `qualifier "${q}" names a version: it must be ${range}`]);
    }
    expect((await call('GET', '/fn/shop:2147483647')).status).toBe(404);

    const rule =
      'a qualifier is an alias (1 to 20 characters of a-z, 0-9 and "-", starting with a letter: a DNS-1035 label, as PUT .../aliases/{alias} takes) or a version (3 or v3)';
    for (const [url, shown] of [
      ['/fn/shop:%C3%BC', '\\u00fc'],
      ['/fn/shop:%E4%B8%AD/x', '\\u4e2d'],
      ['/api/v1/functions/invoke/shop:%F0%9F%98%80', '\\ud83d\\ude00'],
      ['/api/v1/functions/invoke/shop:Stable', 'Stable'],
    ]) {
      const r = await call('POST', url, { data: 1 });
      expect([url, r.status, r.body.message]).toEqual([url, 400, `qualifier "${shown}" is not valid: ${rule}`]);
    }
    // The header as a client sends it in UTF-8 (Node reads header bytes as Latin-1), and a character outside Latin-1.
    for (const value of ['\u00fc', '\u4e2d', 'stable!']) {
      for (const path of ['/fn/shop', '/api/v1/functions/invoke/shop']) {
        const r = await rawRequest(`GET ${path} HTTP/1.1\r\nX-Function-Qualifier: ${value}`);
        expect([value, path, r.status, r.text]).toEqual([
          value,
          path,
          400,
          expect.stringMatching(/"message":"qualifier \\".*\\" is not valid: a qualifier is an alias/),
        ]);
      }
    }
    expect((await call('PUT', '/api/v1/functions/shop/aliases/Stable', { version: 1 })).status).toBe(400);
    // The platform still serves.
    expect((await call('GET', '/fn/shop:latest')).body).toEqual({ v: 2 });
  }, 60_000);

  it('keeps a caller on one version when the split is sticky (X-Caller-Id), and spreads different callers', async () => {
    const set = await call<TrafficView>('PUT', '/api/v1/functions/shop/traffic', {
      splits: [
        { version: 1, percent: 50 },
        { version: 2, percent: 50 },
      ],
      sticky: true,
    });
    expect(set.body.sticky).toBe(true);
    for (const caller of ['alice', 'bob', 'carol']) {
      const counts = await invokeMany('/api/v1/functions/invoke/shop', 30, () => ({ 'x-caller-id': caller }), 4);
      expect(counts.size).toBe(1);
    }
    const spread = await invokeMany('/api/v1/functions/invoke/shop', 200, (i) => ({ 'x-caller-id': `caller-${i}` }));
    expect(spread.get(1)).toBeGreaterThan(60);
    expect(spread.get(2)).toBeGreaterThan(60);
    const bad = await call('PUT', '/api/v1/functions/shop/traffic', {
      splits: [
        { version: 1, percent: 50 },
        { version: 2, percent: 40 },
      ],
    });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toBe("the split's percentages sum to 90; they must sum to 100");
  });

  it('rolls back to the previous version in one call, and a broken build of v3 leaves v2 serving', async () => {
    const back = await call<DeploymentView>('POST', '/api/v1/functions/shop/rollback');
    expect(back.status).toBe(200);
    expect(back.body).toMatchObject({ status: 'READY', version: 1 });
    const after = await invokeMany('/api/v1/functions/invoke/shop', 50);
    expect([...after.keys()]).toEqual([1]);
    // The alias stays; the split ended.
    expect((await call<TrafficView>('GET', '/api/v1/functions/shop/traffic')).body).toMatchObject({
      aliases: { latest: 1, stable: 1 },
      splits: [{ version: 1, percent: 100 }],
    });

    expect((await deploy(shop, 2)).version).toBe(2);
    const broken = await newVersion(shop, 'def handle(event:\n    return 3\n', true);
    expect(broken).toMatchObject({ version: 3, status: 'FAILED' });
    expect((await call('POST', `/api/v1/functions/deploy/${shop}`)).status).toBe(409);
    const still = await invokeMany('/fn/shop', 30);
    expect([...still.keys()]).toEqual([2]);
    expect((await call('POST', `/api/v1/functions/deploy/${shop}`, { version: 3 })).status).toBe(409);
    expect([...(await invokeMany('/api/v1/functions/invoke/shop', 10)).keys()]).toEqual([2]);
  }, 120_000);

  it('rolls a canary back by itself when the new version fails above the error-rate threshold', async () => {
    await newVersion(shop, handler(4, true));
    const start = await call<TrafficView>('PUT', '/api/v1/functions/shop/traffic', {
      canary: { version: 4, steps: [30, 60, 100], intervalSeconds: 3, maxErrorRate: 0.2, minInvocations: 5 },
    });
    expect(start.status).toBe(200);
    expect(start.body).toMatchObject({
      canary: { state: 'RUNNING', version: 4, baseline: 2 },
      splits: [
        { version: 2, percent: 70 },
        { version: 4, percent: 30 },
      ],
    });
    let failures = 0;
    const rolledBack = await until(
      async () => {
        for (let i = 0; i < 10; i++) if ((await call('POST', '/api/v1/functions/invoke/shop', { data: i })).status === 500) failures++;
        const t = (await call<TrafficView>('GET', '/api/v1/functions/shop/traffic')).body;
        return t.canary?.state === 'ROLLED_BACK' ? t : undefined;
      },
      'the canary to roll back',
      45_000,
    );
    expect(failures).toBeGreaterThan(0);
    expect(rolledBack.splits).toEqual([{ version: 2, percent: 100 }]);
    expect(rolledBack.canary!.reason).toMatch(/^version 4 failed \d+ of \d+ invocations/);
    expect([...(await invokeMany('/api/v1/functions/invoke/shop', 30)).keys()]).toEqual([2]);
  }, 90_000);

  /** A second function whose trigger is the only caller; the split is read from its stats by version. */
  async function twoVersions(label: string, triggers: unknown[]): Promise<string> {
    const created = await call<FunctionView>('POST', '/api/v1/functions', { label, runtime: 'python', handler: handler(1), config: { triggers } });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await build(id)).status).toBe('BUILT');
    await deploy(id);
    const v2 = await call<FunctionView>('PUT', `/api/v1/functions/${id}`, { handler: handler(2) });
    expect(v2.body.version).toBe(2);
    expect((await build(id)).status).toBe('BUILT');
    await deploy(id);
    return id;
  }

  const byVersion = async (id: string, from: string) => {
    const s = (await call<InvocationStats>('GET', `/api/v1/functions/${id}/stats?by=version&from=${encodeURIComponent(from)}`)).body;
    return new Map((s.versions ?? []).map((v) => [v.version, v.invocations]));
  };

  it('splits a queue trigger the same way: 200 messages, 50/50', async () => {
    const id = await twoVersions('orders-split', [{ type: 'queue', source: 'orders-split' }]);
    const from = new Date().toISOString();
    expect(
      (
        await call('PUT', `/api/v1/functions/${id}/traffic`, {
          splits: [
            { version: 1, percent: 50 },
            { version: 2, percent: 50 },
          ],
        })
      ).status,
    ).toBe(200);
    const conn = await amqplib.connect(p.env.AMQP_URL);
    try {
      const ch = await conn.createConfirmChannel();
      const queue = `${p.env.HKS_NAMESPACE}.orders-split`;
      for (let i = 0; i < 200; i++) ch.sendToQueue(queue, Buffer.from(JSON.stringify({ n: i })), { persistent: true });
      await ch.waitForConfirms();
      const counts = await until(
        async () => {
          const c = await byVersion(id, from);
          return (c.get(1) ?? 0) + (c.get(2) ?? 0) >= 200 ? c : undefined;
        },
        '200 queued invocations recorded',
        90_000,
      );
      process.stdout.write(`50/50 split over 200 queue messages: v1 ${counts.get(1)}, v2 ${counts.get(2)}\n`);
      expect(counts.get(1)).toBeGreaterThan(70);
      expect(counts.get(2)).toBeGreaterThan(70);
      await ch.deleteQueue(queue).catch(() => undefined);
    } finally {
      await conn.close();
    }
  }, 180_000);

  it('splits asynchronous invocations of the invoke API the same way, and promotes a healthy canary by itself', async () => {
    const id = await twoVersions('async-split', []);
    const from = new Date().toISOString();
    expect(
      (
        await call('PUT', `/api/v1/functions/${id}/traffic`, {
          splits: [
            { version: 1, percent: 50 },
            { version: 2, percent: 50 },
          ],
        })
      ).status,
    ).toBe(200);
    for (let i = 0; i < 100; i++) expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: i }, { prefer: 'respond-async' })).status).toBe(202);
    const counts = await until(
      async () => {
        const c = await byVersion(id, from);
        return (c.get(1) ?? 0) + (c.get(2) ?? 0) >= 100 ? c : undefined;
      },
      '100 asynchronous invocations recorded',
      90_000,
    );
    process.stdout.write(`50/50 split over 100 asynchronous invocations: v1 ${counts.get(1)}, v2 ${counts.get(2)}\n`);
    expect(counts.get(1)).toBeGreaterThan(30);
    expect(counts.get(2)).toBeGreaterThan(30);

    // A canary of the healthy version 1 against version 2: it moves on each second and ends deployed.
    const started = await call<TrafficView>('PUT', `/api/v1/functions/${id}/traffic`, {
      canary: { version: 1, steps: [50, 100], intervalSeconds: 1, maxErrorRate: 0.2, minInvocations: 3 },
    });
    expect(started.body.canary).toMatchObject({ state: 'RUNNING', baseline: 2 });
    const promoted = await until(
      async () => {
        for (let i = 0; i < 5; i++) expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: i })).status).toBe(200);
        const t = (await call<TrafficView>('GET', `/api/v1/functions/${id}/traffic`)).body;
        return t.canary?.state === 'PROMOTED' ? t : undefined;
      },
      'the canary to be promoted',
      45_000,
    );
    expect(promoted).toMatchObject({ version: 1, splits: [{ version: 1, percent: 100 }] });
  }, 180_000);

  it('splits the functions an event type triggers the same way: 60 posted events, 50/50', async () => {
    const id = await twoVersions('on-split', [{ type: 'event', eventType: 'ORDER_PLACED' }]);
    const from = new Date().toISOString();
    expect(
      (
        await call('PUT', `/api/v1/functions/${id}/traffic`, {
          splits: [
            { version: 1, percent: 50 },
            { version: 2, percent: 50 },
          ],
        })
      ).status,
    ).toBe(200);
    for (let i = 0; i < 60; i++) expect((await call('POST', '/api/v3/events', { type: 'ORDER_PLACED', source: 'shop', payload: { n: i } })).status).toBe(201);
    const counts = await until(
      async () => {
        const c = await byVersion(id, from);
        return (c.get(1) ?? 0) + (c.get(2) ?? 0) >= 60 ? c : undefined;
      },
      '60 event-triggered invocations recorded',
      90_000,
    );
    process.stdout.write(`50/50 split over 60 events: v1 ${counts.get(1)}, v2 ${counts.get(2)}\n`);
    expect(counts.get(1)).toBeGreaterThan(15);
    expect(counts.get(2)).toBeGreaterThan(15);
  }, 180_000);

  it("gives an older version, by alias and after a rollback, the secrets its own config names, not the current version's", async () => {
    expect((await call('PUT', '/api/v1/secrets/token-one', { values: { value: 'first-secret' } })).status).toBe(200);
    expect((await call('PUT', '/api/v1/secrets/token-two', { values: { value: 'second-secret' } })).status).toBe(200);
    const code = ['import os', '', 'def handle(event):', "    return {'token': os.environ.get('TOKEN'), 'other': os.environ.get('OTHER')}", ''].join('\n');
    const created = await call<FunctionView>('POST', '/api/v1/functions', {
      label: 'secretive',
      runtime: 'python',
      handler: code,
      config: { secrets: [{ env: 'TOKEN', secret: 'token-one' }] },
    });
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await build(id)).status).toBe('BUILT');
    await deploy(id);
    expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: 1 })).body).toEqual({ token: 'first-secret', other: null });
    // Version 2 names another secret, under another name.
    const v2 = await call<FunctionView>('PUT', `/api/v1/functions/${id}`, { config: { secrets: [{ env: 'OTHER', secret: 'token-two' }] } });
    expect(v2.body.version).toBe(2);
    expect((await build(id)).status).toBe('BUILT');
    expect((await deploy(id)).version).toBe(2);
    expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: 1 })).body).toEqual({ token: null, other: 'second-secret' });

    expect((await call('PUT', `/api/v1/functions/${id}/aliases/old`, { version: 1 })).status).toBe(200);
    expect((await call('POST', '/api/v1/functions/invoke/secretive:old', { data: 1 })).body).toEqual({ token: 'first-secret', other: null });
    expect((await call('POST', '/api/v1/functions/invoke/secretive:2', { data: 1 })).body).toEqual({ token: null, other: 'second-secret' });

    const back = await call<DeploymentView>('POST', `/api/v1/functions/${id}/rollback`);
    expect(back.body).toMatchObject({ status: 'READY', version: 1 });
    for (let i = 0; i < 5; i++)
      expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: i })).body).toEqual({ token: 'first-secret', other: null });
    expect((await call('DELETE', `/api/v1/functions/deploy/${id}`)).status).toBe(200);
  }, 180_000);

  it('splits a schedule the same way: ticks every second, 50/50', async () => {
    const id = await twoVersions('tick-split', [{ type: 'schedule', cron: '* * * * * *', timezone: 'UTC' }]);
    expect(
      (
        await call('PUT', `/api/v1/functions/${id}/traffic`, {
          splits: [
            { version: 1, percent: 50 },
            { version: 2, percent: 50 },
          ],
        })
      ).status,
    ).toBe(200);
    const from = new Date(Date.now() + 500).toISOString();
    await sleep(20_000);
    const counts = await byVersion(id, from);
    process.stdout.write(`50/50 split over a schedule's ticks for 20 s: v1 ${counts.get(1)}, v2 ${counts.get(2)}\n`);
    expect((counts.get(1) ?? 0) + (counts.get(2) ?? 0)).toBeGreaterThanOrEqual(15);
    expect(counts.get(1)).toBeGreaterThanOrEqual(3);
    expect(counts.get(2)).toBeGreaterThanOrEqual(3);
    expect((await call('DELETE', `/api/v1/functions/deploy/${id}`)).status).toBe(200);
  }, 180_000);
});
