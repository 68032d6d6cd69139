import { Controller, INestApplication } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { InvocationPatterns } from '@platform/contracts';
import type { Express } from 'express';
import { readFileSync } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
// The real registry (built: `npm run build` first), over real RPC.
import { createTestDatabase, isolatedEnv, removeNamespace, ServiceProcess, waitFor } from '@platform/testing';
import { SWAGGER_PATH } from '../configure';
import { startGateway } from '../testing/start-gateway';
import { startRpcStandIn } from '../testing/rpc-stand-in';

/** Function ids by label, filled in as the test creates them. */
const ids: Record<string, string> = {};

/**
 * The deployer, as far as an invoke key gets: every invocation it is asked for is one of target-fn's, so the invoke
 * key of another function must get 404 for it (the routes an invoke key may use, GET and cancel of one invocation).
 */
@Controller()
class DeployerStandIn {
  @MessagePattern(InvocationPatterns.Get)
  get(@Payload() p: { id: string }) {
    return { id: p.id, functionId: ids['target-fn'], label: 'target-fn', status: 'queued' };
  }

  @MessagePattern(InvocationPatterns.Cancel)
  cancel(@Payload() p: { id: string }) {
    return { id: p.id, functionId: ids['target-fn'], label: 'target-fn', status: 'cancelled' };
  }
}

interface Answer {
  status: number;
  body: string;
}

/** Sends the path exactly as written (no client normalising it) and stops at the status: SSE routes never end. */
function send(base: string, method: string, pathname: string, headers: Record<string, string> = {}): Promise<Answer> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method, path: pathname, headers: { ...headers, 'content-length': '0' } }, (res) => {
      let body = '';
      const done = () => {
        resolve({ status: res.statusCode ?? 0, body });
        req.destroy();
      };
      if ((res.headers['content-type'] ?? '').includes('text/event-stream')) return done();
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', done);
    });
    req.on('error', reject);
    // A route that never answers is a finding too, not a hung test.
    req.setTimeout(5_000, () => {
      resolve({ status: -1, body: 'no answer within 5 s' });
      req.destroy();
    });
    req.end();
  });
}

/** Every way of writing `p` that a lax router or a prefix check could read as the same route. */
function spellings(p: string): string[] {
  const segs = p.split('/').filter(Boolean);
  const toggle = (s: string) => [...s].map((c, i) => (i % 2 ? c.toUpperCase() : c.toLowerCase())).join('');
  const encodeFirstLetter = (s: string) => s.replace(/[a-z]/i, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  const out = [
    p,
    p.toUpperCase(),
    toggle(p),
    `/${segs[0].toUpperCase()}/${segs.slice(1).join('/')}`,
    p.replace(/\//g, '//'),
    `/${segs[0]}//${segs.slice(1).join('/')}`,
    `/${segs[0]}/./${segs.slice(1).join('/')}`,
    `/${segs[0]}/x/../${segs.slice(1).join('/')}`,
    `/${segs[0]}/%2e/${segs.slice(1).join('/')}`,
    `/${encodeFirstLetter(segs[0])}/${segs.slice(1).join('/')}`,
    `/${segs.map((s, i) => (i === segs.length - 1 ? encodeFirstLetter(s) : s)).join('/')}`,
    `/${segs.join('%2F')}`,
    `/${segs.join('%2f')}`,
    `${p}/`,
    `${p}/.`,
  ];
  return [...new Set(out)];
}

/**
 * Enumerates every route the gateway's router knows (read from the running Express router, plus the proxied
 * invocation paths from the served OpenAPI document) and tries each, in many spellings, with every kind of
 * key: only the public routes answer without an admin key, and only the right invoke key may invoke.
 */
describe('authorisation of every route the gateway knows', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let registry: ServiceProcess;
  let gateway: { app: INestApplication; url: string };
  let deployer: INestApplication | undefined;
  let invoker: http.Server;
  const invoked: string[] = [];
  let adminKey: string;
  const keys: Record<string, Record<string, string>> = {};
  const routes: Array<{ method: string; path: string }> = [];

  const admin = () => ({ authorization: `Bearer ${adminKey}` });
  const json = async (method: string, p: string, body: unknown) =>
    new Promise<{ status: number; body: Record<string, unknown> }>((resolve, reject) => {
      const text = JSON.stringify(body);
      const url = new URL(gateway.url);
      const req = http.request(
        {
          host: url.hostname,
          port: url.port,
          method,
          path: p,
          headers: { ...admin(), 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) },
        },
        (res) => {
          let out = '';
          res.on('data', (c) => (out += c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(out) as Record<string, unknown> }));
        },
      );
      req.on('error', reject);
      req.end(text);
    });

  beforeAll(async () => {
    invoker = http.createServer((req, res) => {
      invoked.push(`${req.method} ${req.url}`);
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"ok":true}');
    });
    await new Promise<void>((r) => invoker.listen(0, '127.0.0.1', () => r()));
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, RPC_TIMEOUT_MS: '500', INVOKER_URL: `http://127.0.0.1:${(invoker.address() as AddressInfo).port}` });
    registry = await ServiceProcess.start('function-registry', 'REGISTRY_PORT', iso.env);
    deployer = await startRpcStandIn(iso.env, 'deployer', [DeployerStandIn]);
    adminKey = readFileSync(path.join(iso.env.HKS_DATA_DIR, 'admin-key'), 'utf8').trim();
    gateway = await startGateway(iso.env);

    for (const label of ['target-fn', 'other-fn']) {
      const f = await json('POST', '/api/v1/functions', {
        label,
        runtime: 'node',
        handler: 'module.exports = () => 1',
        config: { triggers: [{ type: 'http', auth: 'required' }] },
      });
      expect(f.status).toBe(201);
      ids[label] = f.body.id as string;
    }
    keys['no key'] = {};
    keys['a wrong key'] = { authorization: 'Bearer hks_not-a-key-at-all' };
    const invoke = await json('POST', '/api/v1/keys', { name: 'invoke other-fn', scope: 'invoke', functions: ['other-fn'] });
    keys['an invoke key for another function'] = { authorization: `Bearer ${invoke.body.key as string}` };
    const revoked = await json('POST', '/api/v1/keys', { name: 'soon revoked', scope: 'admin' });
    const revokedKey = { authorization: `Bearer ${revoked.body.key as string}` };
    expect((await send(gateway.url, 'GET', '/api/v1/keys', revokedKey)).status).toBe(200);
    expect((await send(gateway.url, 'DELETE', `/api/v1/keys/${revoked.body.id as string}`, admin())).status).toBe(200);
    await waitFor(async () => (await send(gateway.url, 'GET', '/api/v1/keys', revokedKey)).status === 401, { what: 'the revoked key to be refused' });
    keys['a revoked admin key'] = revokedKey;

    // The routes, as the router knows them.
    const router = (gateway.app.getHttpAdapter().getInstance() as Express).router as unknown as {
      stack: Array<{ route?: { path: string; methods: Record<string, boolean> } }>;
    };
    for (const layer of router.stack) {
      if (!layer.route) continue;
      for (const method of Object.keys(layer.route.methods)) if (method !== '_all') routes.push({ method: method.toUpperCase(), path: layer.route.path });
    }
    // The invocation paths are served in front of the router; the OpenAPI document describes them.
    const doc = JSON.parse((await send(gateway.url, 'GET', `/${SWAGGER_PATH}-json`)).body) as { paths: Record<string, Record<string, unknown>> };
    for (const [p, ops] of Object.entries(doc.paths)) {
      for (const method of Object.keys(ops)) {
        const route = { method: method.toUpperCase(), path: p.replace(/\{(\w+)\}/g, ':$1') };
        if (!routes.some((r) => r.method === route.method && r.path === route.path)) routes.push(route);
      }
    }
  }, 60_000);

  afterAll(async () => {
    await gateway?.app.close();
    await deployer?.close();
    await registry?.stop();
    await new Promise((r) => invoker?.close(r));
    await db?.drop();
    if (iso)
      await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry', 'deployer', 'builder', 'event-store'], ['function-registry.builds']);
    iso?.cleanup();
  }, 30_000);

  const PUBLIC = new Set(['/healthz', '/readyz', `/${SWAGGER_PATH}`, `/${SWAGGER_PATH}-json`, `/${SWAGGER_PATH}-yaml`]);
  const isPublic = (p: string) => PUBLIC.has(p) || p.startsWith(`/${SWAGGER_PATH}/`);
  /** A route path with its parameters filled in: a real function where one is named. */
  const concrete = (p: string) => p.replace(/:(\w+)/g, (_m, name: string) => (name === 'label' ? 'target-fn' : name === 'name' ? 'db' : ids['target-fn']));

  it('finds the routes of every controller and the invocation paths', () => {
    const paths = new Set(routes.map((r) => `${r.method} ${r.path}`));
    for (const expected of [
      'GET /api/v1/functions',
      'DELETE /api/v1/secrets/:name',
      'GET /api/v3/events/stream',
      'POST /api/v1/keys',
      'POST /api/v1/functions/invoke/:id',
      'GET /fn/:label',
      'POST /api/v1/functions/:id/debug',
      'GET /api/v1/functions/:id/debug/:session/ws',
      'GET /healthz',
    ]) {
      expect(paths).toContain(expected);
    }
    expect(routes.length).toBeGreaterThan(25);
  });

  it('keeps health and the API documentation open', async () => {
    for (const p of PUBLIC) expect([p, (await send(gateway.url, 'GET', p)).status]).toEqual([p, 200]);
  });

  it('answers nothing but a public route without a valid key of the right scope, however the path is spelled', async () => {
    const failures: string[] = [];
    let tried = 0;
    for (const route of routes) {
      if (isPublic(route.path)) continue;
      for (const spelled of spellings(concrete(route.path))) {
        for (const [who, headers] of Object.entries(keys)) {
          const answer = await send(gateway.url, route.method, spelled, headers);
          tried++;
          // An invoke key passes the guard of GET and cancel of one invocation (the handler then finds it is another
          // function's: 404); as for any valid key, an id that is no UUID is a 400 before that.
          // (Matched on the spelling: "/api/v1/invocations/." is the router's GET :id too.)
          const scoped = who === 'an invoke key for another function' && spelled.startsWith('/api/v1/invocations/');
          const badId = scoped && answer.status === 400 && answer.body.includes('the invocation id must be a UUID');
          if (![401, 403, 404].includes(answer.status) && !badId)
            failures.push(`${route.method} ${spelled} with ${who}: ${answer.status} ${answer.body.slice(0, 120)}`);
        }
      }
    }
    process.stdout.write(`route-auth: ${routes.length} routes, ${tried} requests without a valid key of the right scope, ${failures.length} let through\n`);
    expect(failures).toEqual([]);
    expect(tried).toBeGreaterThan(1000);
    expect(invoked).toEqual([]);
  }, 120_000);

  it('lets the admin key through to every route (DELETE last, so the others still find their function)', async () => {
    const ordered = [...routes].sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    const refused: string[] = [];
    for (const route of ordered) {
      const answer = await send(gateway.url, route.method, concrete(route.path), admin());
      // /metrics is operator data behind METRICS_TOKEN or the internal credential, never an API key (test/metrics.e2e-spec.ts).
      if (route.path === '/metrics') {
        if (answer.status !== 401 || !answer.body.includes('API keys do not open')) refused.push(`GET /metrics: ${answer.status} ${answer.body.slice(0, 120)}`);
        continue;
      }
      const routerMiss = answer.status === 404 && answer.body.includes('Cannot ');
      // No answer yet (-1) is a handler waiting for a service this test does not run: the guard answers at once.
      if (answer.status === 401 || answer.status === 403 || routerMiss)
        refused.push(`${route.method} ${route.path}: ${answer.status} ${answer.body.slice(0, 120)}`);
    }
    expect(refused).toEqual([]);
    expect(invoked).toEqual(expect.arrayContaining([`POST /invoke/${ids['target-fn']}`, 'GET /http/target-fn']));
  }, 180_000);

  it('lets an invoke key invoke the function it names, by id or label, and nothing else', async () => {
    const key = keys['an invoke key for another function'];
    const before = invoked.length;
    expect((await send(gateway.url, 'POST', `/api/v1/functions/invoke/${ids['other-fn']}`, key)).status).toBe(200);
    expect((await send(gateway.url, 'GET', '/api/v1/functions/invoke/other-fn', key)).status).toBe(200);
    expect((await send(gateway.url, 'GET', '/fn/other-fn/page', key)).status).toBe(200);
    expect(invoked.slice(before)).toEqual([`POST /invoke/${ids['other-fn']}`, 'GET /invoke/other-fn', 'GET /http/other-fn/page']);
  });
});
