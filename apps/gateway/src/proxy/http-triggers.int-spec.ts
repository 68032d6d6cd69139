import { Controller, INestApplication } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { randomUUID } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import {
  AcceptedInvocation,
  AcceptInvocationCommand,
  DeploymentPatterns,
  InvocationPatterns,
  invocationStatusUrl,
  NotFoundError,
  TrafficView,
} from '@platform/contracts';
// The real registry (built: `npm run build` first) holds the functions and their triggers, over real RPC; the
// deployer (the async accept) and the invoker are stand-ins that record what reaches them.
import { createTestDatabase, isolatedEnv, removeNamespace, ServiceProcess, waitFor } from '@platform/testing';
import { startGateway } from '../testing/start-gateway';
import { startRpcStandIn } from '../testing/rpc-stand-in';

const accepted: AcceptInvocationCommand[] = [];
/** What the deployer says runs, by function id: its aliases and versions (404 for one not set here). */
const traffic = new Map<string, TrafficView>();

@Controller()
class DeployerStandIn {
  @MessagePattern(DeploymentPatterns.GetTraffic)
  traffic(@Payload() q: { functionId: string }): TrafficView {
    const t = traffic.get(q.functionId);
    if (!t) throw new NotFoundError(`function ${q.functionId} is not deployed`);
    return t;
  }

  @MessagePattern(InvocationPatterns.Accept)
  accept(@Payload() c: AcceptInvocationCommand): AcceptedInvocation {
    accepted.push(c);
    const id = randomUUID();
    return { invocationId: id, functionId: c.functionId, status: 'queued', statusUrl: invocationStatusUrl(id), duplicate: false };
  }
}

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

const KEY = `key-${randomUUID()}`;
const withKey = { authorization: `Bearer ${KEY}` };
const ASYNC = { prefer: 'respond-async' };

describe('/fn/{label}{path} serves what the http triggers say, seen from outside', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let registry: ServiceProcess;
  let deployer: INestApplication | undefined;
  let gateway: { app: INestApplication; url: string };
  let invoker: http.Server;
  const invoked: string[] = [];
  const ids: Record<string, string> = {};

  /** Sends the path exactly as written (no client normalising it). */
  const send = (method: string, path: string, headers: Record<string, string> = {}, body?: string) =>
    new Promise<Answer>((resolve, reject) => {
      const url = new URL(gateway.url);
      const req = http.request(
        { host: url.hostname, port: url.port, method, path, headers: { ...headers, 'content-length': String(Buffer.byteLength(body ?? '')) } },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (c: string) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });
  const json = (a: Answer) => JSON.parse(a.body) as Record<string, unknown>;

  const putTriggers = async (label: string, triggers: unknown[]) => {
    const text = JSON.stringify({ config: { triggers } });
    const res = await send('PUT', `/api/v1/functions/${label}`, { ...withKey, 'content-type': 'application/json' }, text);
    expect([label, res.status]).toEqual([label, 200]);
  };

  beforeAll(async () => {
    invoker = http.createServer((req, res) => {
      invoked.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(req.method === 'HEAD' ? undefined : '{"ok":true}');
    });
    await new Promise<void>((r) => invoker.listen(0, '127.0.0.1', () => r()));
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, INVOKER_URL: `http://127.0.0.1:${(invoker.address() as AddressInfo).port}` });
    registry = await ServiceProcess.start('function-registry', 'REGISTRY_PORT', iso.env);
    deployer = await startRpcStandIn(iso.env, 'deployer', [DeployerStandIn]);
    gateway = await startGateway({ ...iso.env, HKS_API_KEYS: KEY });

    const functions: Record<string, unknown[]> = {
      x: [{ type: 'http', methods: ['GET'], path: '/hello' }],
      site: [
        { type: 'http', methods: ['GET'], path: '/public/*', auth: 'none' },
        { type: 'http', path: '/admin', auth: 'required' },
        { type: 'http', path: '/items/{id}', methods: ['PUT'] },
      ],
      nightly: [{ type: 'schedule', cron: '0 3 * * *' }],
      plain: [],
    };
    for (const [label, triggers] of Object.entries(functions)) {
      const text = JSON.stringify({ label, runtime: 'node', handler: 'module.exports = () => 1', config: { triggers } });
      const res = await send('POST', '/api/v1/functions', { ...withKey, 'content-type': 'application/json' }, text);
      expect([label, res.status, res.body.slice(0, 200)]).toEqual([label, 201, expect.any(String)]);
      ids[label] = json(res).id as string;
    }
  }, 60_000);

  afterAll(async () => {
    await gateway?.app.close();
    await deployer?.close();
    await registry?.stop();
    await new Promise((r) => invoker?.close(r));
    await db?.drop();
    if (iso) await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry', 'deployer'], ['function-registry.builds']);
    iso?.cleanup();
  }, 30_000);

  it('methods [GET], path /hello: GET and HEAD /fn/x/hello are served, DELETE is 405 with Allow, another path 404', async () => {
    const before = invoked.length;
    expect((await send('GET', '/fn/x/hello?q=1', withKey)).status).toBe(200);
    expect((await send('HEAD', '/fn/x/hello', withKey)).status).toBe(200);
    expect((await send('GET', '/fn/x/hello/', withKey)).status).toBe(200);
    expect(invoked.slice(before)).toEqual(['GET /http/x/hello?q=1', 'HEAD /http/x/hello', 'GET /http/x/hello/']);

    const wrongMethod = await send('DELETE', '/fn/x/hello', withKey);
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.allow).toBe('GET, HEAD');
    expect(json(wrongMethod)).toEqual({
      statusCode: 405,
      error: 'Method Not Allowed',
      message: 'Function x does not take DELETE on /hello: it takes GET, HEAD',
    });

    const wrongPath = await send('POST', '/fn/x/other', withKey);
    expect(wrongPath.status).toBe(404);
    expect(json(wrongPath)).toEqual({
      statusCode: 404,
      error: 'Not Found',
      message: 'Function x has no http trigger for the path /other: it serves /fn/x/hello',
    });
    expect((await send('GET', '/fn/x', withKey)).status).toBe(404);
    expect(invoked.length).toBe(before + 3);
  });

  it('tells a caller without a key nothing about a function with no open trigger: 401 whatever the path or method', async () => {
    const before = invoked.length;
    for (const [method, path] of [
      ['GET', '/fn/x/hello'],
      ['DELETE', '/fn/x/hello'],
      ['POST', '/fn/x/other'],
      ['GET', '/fn/x/hello/../other'],
    ]) {
      const res = await send(method, path);
      expect([method, path, res.status]).toEqual([method, path, 401]);
      expect(res.headers.allow).toBeUndefined();
    }
    expect(invoked.length).toBe(before);
  });

  it('applies the auth of the trigger that takes the request: none needs no key, required does', async () => {
    const before = invoked.length;
    expect((await send('GET', '/fn/site/public/css/a.css')).status).toBe(200);
    const keyed = await send('GET', '/fn/site/admin');
    expect(keyed.status).toBe(401);
    expect(json(keyed).message).toContain('An API key is required');
    expect((await send('GET', '/fn/site/admin', withKey)).status).toBe(200);
    expect((await send('PUT', '/fn/site/items/42')).status).toBe(401);
    expect((await send('PUT', '/fn/site/items/42', withKey)).status).toBe(200);
    expect(invoked.slice(before)).toEqual(['GET /http/site/public/css/a.css', 'GET /http/site/admin', 'PUT /http/site/items/42']);
  });

  it('answers a public function’s misses without a key, and refuses a path that would climb out of the matched one', async () => {
    const before = invoked.length;
    const miss = await send('GET', '/fn/site/nothing');
    expect(miss.status).toBe(404);
    expect(json(miss).message).toBe(
      'Function site has no http trigger for the path /nothing: it serves /fn/site/public/*, /fn/site/admin, /fn/site/items/{id}',
    );
    const post = await send('POST', '/fn/site/public/a');
    expect([post.status, post.headers.allow]).toEqual([405, 'GET, HEAD']);
    for (const path of ['/fn/site/public/../admin', '/fn/site/public/%2e%2e/admin', '/fn/site/public/..%2Fadmin']) {
      const res = await send('GET', path);
      expect([path, res.status]).toEqual([path, 400]);
      expect(json(res).message).toMatch(/^the path after the function name may not /);
    }
    expect(invoked.length).toBe(before);
  });

  it('does not serve a function with only a schedule trigger on /fn/, and says how to invoke it', async () => {
    const res = await send('GET', '/fn/nightly', withKey);
    expect(res.status).toBe(404);
    expect(json(res).message).toBe(
      `Function nightly is not served on /fn/: it has no http trigger (its triggers: schedule). Invoke it with POST /api/v1/functions/invoke/${ids.nightly}, or through its triggers`,
    );
    expect((await send('GET', '/fn/nightly')).status).toBe(401);
    const before = invoked.length;
    expect((await send('POST', '/api/v1/functions/invoke/nightly', withKey)).status).toBe(200);
    expect(invoked.slice(before)).toEqual(['POST /invoke/nightly']);
  });

  it('serves a function with no triggers at all on any method and path, with a key', async () => {
    const before = invoked.length;
    for (const method of ['GET', 'DELETE', 'OPTIONS', 'PATCH'])
      expect([method, (await send(method, '/fn/plain/any/where', withKey)).status]).toEqual([method, 200]);
    expect((await send('GET', '/fn/plain/any/where')).status).toBe(401);
    expect(invoked.length).toBe(before + 4);
  });

  it('applies the same rules to asynchronous invocations (Prefer: respond-async) before anything is stored', async () => {
    const before = accepted.length;
    const wrongMethod = await send('DELETE', '/fn/x/hello', { ...withKey, ...ASYNC });
    expect([wrongMethod.status, wrongMethod.headers.allow]).toEqual([405, 'GET, HEAD']);
    expect((await send('POST', '/fn/x/other', { ...withKey, ...ASYNC })).status).toBe(404);
    expect((await send('GET', '/fn/nightly', { ...withKey, ...ASYNC })).status).toBe(404);
    expect((await send('GET', '/fn/site/admin', ASYNC)).status).toBe(401);
    expect((await send('GET', '/fn/site/public/../admin', { 'x-invocation-type': 'Event' })).status).toBe(400);
    expect(accepted.length).toBe(before);

    const ok = await send('GET', '/fn/x/hello?a=1', { ...withKey, ...ASYNC });
    expect(ok.status).toBe(202);
    const open = await send('GET', '/fn/site/public/page', ASYNC);
    expect(open.status).toBe(202);
    expect(accepted.slice(before).map((c) => [c.functionId, c.request.method, c.request.path, c.request.query])).toEqual([
      [ids.x, 'GET', '/hello', 'a=1'],
      [ids.site, 'GET', '/public/page', ''],
    ]);
  });

  it('decides access on the version that serves: the one a qualifier names, else the deployed one(s), not the current config', async () => {
    const open = [{ type: 'http', auth: 'none' }];
    const keyed = [{ type: 'http', auth: 'required' }];
    const twoVersions = async (label: string, v1: unknown[], v2: unknown[]) => {
      const text = JSON.stringify({ label, runtime: 'node', handler: 'module.exports = () => 1', config: { triggers: v1 } });
      const res = await send('POST', '/api/v1/functions', { ...withKey, 'content-type': 'application/json' }, text);
      expect(res.status).toBe(201);
      const id = json(res).id as string;
      await putTriggers(label, v2);
      traffic.set(id, {
        functionId: id,
        label,
        version: 2,
        aliases: { latest: 2, old: 1 },
        splits: [{ version: 2, percent: 100 }],
        sticky: false,
        versions: [1, 2],
        canary: null,
        revision: 1,
      });
      return id;
    };
    // shop: version 1 was public, version 2 needs a key; vault the other way round.
    const shop = await twoVersions('shop', open, keyed);
    const vault = await twoVersions('vault', keyed, open);
    const before = invoked.length;
    for (const [path, headers, status] of [
      ['/fn/shop:old', {}, 200],
      ['/fn/shop:1', {}, 200],
      ['/fn/shop:v1/a/b', {}, 200],
      ['/fn/shop', { 'x-function-qualifier': 'old' }, 200],
      ['/fn/shop', {}, 401],
      ['/fn/shop:2', {}, 401],
      ['/fn/shop:latest', {}, 401],
      ['/fn/vault:old', {}, 401],
      ['/fn/vault:1', {}, 401],
      ['/fn/vault', { 'x-function-qualifier': '1' }, 401],
      ['/fn/vault:old', withKey, 200],
      ['/fn/vault', {}, 200],
      ['/fn/vault:latest', {}, 200],
      // No alias "nope", version 7 not running: a key is needed before the invoker says so.
      ['/fn/vault:nope', {}, 401],
      ['/fn/vault:7', {}, 401],
    ] as Array<[string, Record<string, string>, number]>) {
      expect([path, headers, (await send('GET', path, headers)).status]).toEqual([path, headers, status]);
    }
    expect(invoked.length - before).toBe(7);

    // Without a qualifier, the version(s) deployed decide. shop rolled back to its public version 1: no key needed.
    traffic.set(shop, { ...traffic.get(shop)!, version: 1, aliases: { latest: 1, old: 1 }, splits: [{ version: 1, percent: 100 }] });
    // vault split across its keyed version 1 and its open version 2: either may run, so a key is needed.
    traffic.set(vault, {
      ...traffic.get(vault)!,
      splits: [
        { version: 1, percent: 50 },
        { version: 2, percent: 50 },
      ],
    });
    // The stand-in publishes no deployment event: the gateway sees it when its cache expires.
    await waitFor(async () => (await send('GET', '/fn/shop')).status === 200 && (await send('GET', '/fn/vault')).status === 401, {
      what: 'the rolled-back shop to be open and the split vault to need a key',
      timeoutMs: 30_000,
    });
    expect((await send('GET', '/fn/vault', withKey)).status).toBe(200);
    expect((await send('GET', '/fn/vault:2')).status).toBe(200);

    // Deployed no more: every path needs a key (the invoker answers 409 after it).
    traffic.delete(shop);
    await waitFor(async () => (await send('GET', '/fn/shop:old')).status === 401 && (await send('GET', '/fn/shop')).status === 401, {
      what: '/fn/shop:old and /fn/shop (its config: a key) to need a key once shop is not deployed',
      timeoutMs: 30_000,
    });
  }, 90_000);

  it('refuses a malformed qualifier, in the path or the X-Function-Qualifier header, with a 400 naming the rule', async () => {
    const before = invoked.length;
    const rule =
      'a qualifier is an alias (1 to 20 characters of a-z, 0-9 and "-", starting with a letter: a DNS-1035 label, as PUT .../aliases/{alias} takes) or a version (3 or v3)';
    for (const [path, headers, message] of [
      ['/fn/x:%C3%BC/hello', withKey, `qualifier "\\u00fc" is not valid: ${rule}`],
      ['/fn/x:%E4%B8%AD/hello', {}, `qualifier "\\u4e2d" is not valid: ${rule}`],
      ['/api/v1/functions/invoke/x:Stable', withKey, `qualifier "Stable" is not valid: ${rule}`],
      ['/fn/x/hello', { ...withKey, 'x-function-qualifier': '\u00fc' }, `qualifier "\\u00fc" is not valid: ${rule}`],
      ['/fn/x/hello', { 'x-function-qualifier': 'a b' }, `qualifier "a b" is not valid: ${rule}`],
      ['/fn/x:2147483648/hello', withKey, 'qualifier "2147483648" names a version: it must be a whole number from 1 to 2147483647'],
      [
        '/api/v1/functions/invoke/x',
        { ...withKey, 'x-function-qualifier': '0' },
        'qualifier "0" names a version: it must be a whole number from 1 to 2147483647',
      ],
    ] as Array<[string, Record<string, string>, string]>) {
      const res = await send('GET', path, headers);
      expect([path, res.status, json(res)]).toEqual([path, 400, { statusCode: 400, error: 'Bad Request', message }]);
    }
    expect(invoked.length).toBe(before);
  }, 30_000);

  it('follows a change of the triggers at once', async () => {
    await putTriggers('x', [{ type: 'http', methods: ['GET', 'DELETE'], path: '/hello' }]);
    await waitFor(async () => (await send('DELETE', '/fn/x/hello', withKey)).status === 200, { what: 'DELETE /fn/x/hello to be served' });
    await putTriggers('x', [{ type: 'schedule', cron: '0 3 * * *' }]);
    await waitFor(async () => (await send('GET', '/fn/x/hello', withKey)).status === 404, { what: '/fn/x to stop being served' });
  });
});
