import { INestApplication } from '@nestjs/common';
import { randomBytes } from 'crypto';
import { readFileSync } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import * as path from 'path';
import request from 'supertest';
import { INTERNAL_TOKEN_FILE } from '@platform/config';
import { INTERNAL_TOKEN_HEADER } from '@platform/contracts';
// The real registry (built: `npm run build` first), over real RPC.
import { createTestDatabase, isolatedEnv, removeNamespace, ServiceProcess, waitFor } from '@platform/testing';
import { startGateway } from '../testing/start-gateway';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** A small real HTTP server standing in for the invoker: echoes, streams, fails on demand. */
function startInvoker(): Promise<{ server: http.Server; url: string; seen: Seen[]; release: () => void }> {
  const seen: Seen[] = [];
  let release!: () => void;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const answer = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
    if (req.url!.startsWith('/invoke/streamer')) {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write('first\n');
      await gate;
      res.end('second\n');
    } else if (req.url!.startsWith('/invoke/slow-fn')) {
      res.writeHead(504, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ statusCode: 504, error: 'Gateway Timeout', message: 'function slow-fn timed out after 100 ms' }));
    } else if (req.url!.startsWith('/invoke/crash')) {
      req.socket.destroy();
    } else {
      res.writeHead(201, {
        'content-type': req.headers['content-type'] ?? 'application/octet-stream',
        'x-invocation-id': 'inv-1',
        'x-cold-start': 'true',
        'set-cookie': ['a=1', 'b=2'],
      });
      res.end(body);
    }
  };
  // A failure of the stand-in breaks the connection, which the test under way then sees.
  const server = http.createServer((req, res) => {
    answer(req, res).catch(() => res.destroy());
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({ server, url: `http://127.0.0.1:${port}`, seen, release });
    }),
  );
}

async function closedPort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const { port } = s.address() as AddressInfo;
  await new Promise((r) => s.close(r));
  return port;
}

describe('invocation proxy against a real HTTP server standing in for the invoker', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let invoker: Awaited<ReturnType<typeof startInvoker>>;
  let registry: ServiceProcess;
  const gateways: Record<string, { app: INestApplication; url: string }> = {};

  beforeAll(async () => {
    db = await createTestDatabase();
    invoker = await startInvoker();
    iso = isolatedEnv({ DATABASE_URL: db.url, INVOKER_URL: invoker.url });
    registry = await ServiceProcess.start('function-registry', 'REGISTRY_PORT', iso.env);
    const env = { ...iso.env, HKS_API_KEYS: 'secret-key' };
    gateways.open = await startGateway(env);
    gateways.secured = gateways.open;
    gateways.limited = await startGateway({ ...env, GATEWAY_RATE_LIMIT_RPS: '1', GATEWAY_RATE_LIMIT_BURST: '1' });
    gateways.down = await startGateway({ ...env, INVOKER_URL: `http://127.0.0.1:${await closedPort()}` });
  });

  afterAll(async () => {
    invoker?.release();
    for (const g of new Set(Object.values(gateways))) await g.app.close();
    await new Promise((r) => invoker?.server.close(r));
    await registry?.stop();
    await db?.drop();
    if (iso) await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry'], ['function-registry.builds']);
    iso?.cleanup();
  });

  const last = () => invoker.seen[invoker.seen.length - 1];
  const withKey = { authorization: 'Bearer secret-key' };
  /** With an admin key (of HKS_API_KEYS). */
  const admin = (g: { url: string }) => request.agent(g.url).set(withKey);

  it('forwards a data-style invocation with its method, query string and headers, and returns the answer as is', async () => {
    const res = await admin(gateways.open)
      .post('/api/v1/functions/invoke/hello?trace=1&x=a%20b')
      .set('content-type', 'application/json')
      .set('x-custom', 'yes')
      .send({ data: { name: 'Alice' } })
      .expect(201);
    expect(res.body).toEqual({ data: { name: 'Alice' } });
    expect(res.headers['x-invocation-id']).toBe('inv-1');
    expect(res.headers['x-cold-start']).toBe('true');
    expect(res.headers['set-cookie']).toEqual(['a=1', 'b=2']);
    expect(last()).toMatchObject({ method: 'POST', url: '/invoke/hello?trace=1&x=a%20b' });
    expect(last().headers).toMatchObject({ 'x-custom': 'yes', 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1' });
  });

  it("presents the platform's internal credential to the invoker, whatever the client sent in its place", async () => {
    const token = readFileSync(path.join(iso.dataDir, INTERNAL_TOKEN_FILE), 'utf8');
    await admin(gateways.open).post('/api/v1/functions/invoke/hello').set(INTERNAL_TOKEN_HEADER, 'forged').send({}).expect(201);
    expect(last().headers[INTERNAL_TOKEN_HEADER]).toBe(token);
  });

  it('forwards HTTP-style invocations under /fn/{label} with their sub-path', async () => {
    await admin(gateways.open).get('/fn/site/assets/logo.png?size=2').expect(201);
    expect(last()).toMatchObject({ method: 'GET', url: '/http/site/assets/logo.png?size=2' });
    await admin(gateways.open).delete('/fn/site').expect(201);
    expect(last()).toMatchObject({ method: 'DELETE', url: '/http/site' });
  });

  it('carries binary bodies both ways byte for byte', async () => {
    const bytes = randomBytes(256 * 1024);
    const res = await admin(gateways.open)
      .put('/fn/blob/upload')
      .set('content-type', 'application/octet-stream')
      .send(bytes)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      })
      .expect(201);
    expect(Buffer.compare(res.body as Buffer, bytes)).toBe(0);
    expect(Buffer.compare(last().body, bytes)).toBe(0);
  });

  it('streams the answer as it comes instead of buffering it', async () => {
    const received: string[] = [];
    const req = http.get(`${gateways.open.url}/api/v1/functions/invoke/streamer`, { headers: withKey });
    const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
    res.setEncoding('utf8');
    const first = await new Promise<string>((resolve) => res.once('data', resolve));
    received.push(first);
    // The invoker holds the rest back until the client has the first part: only a streaming proxy gets here.
    expect(first).toBe('first\n');
    invoker.release();
    for await (const chunk of res) received.push(chunk as string);
    expect(received.join('')).toBe('first\nsecond\n');
  });

  it("passes the invoker's error answers through", async () => {
    const res = await admin(gateways.open).get('/api/v1/functions/invoke/slow-fn').expect(504);
    expect(res.body.message).toBe('function slow-fn timed out after 100 ms');
  });

  it('answers 502 with a message when the invoker drops the connection', async () => {
    const res = await admin(gateways.open).post('/api/v1/functions/invoke/crash').send({ data: 1 }).expect(502);
    expect(res.body.message).toMatch(/^the invoker at http:\/\/127\.0\.0\.1:\d+ failed to answer \(ECONNRESET\)$/);
  });

  it('answers 503 with a message when the invoker is not running', async () => {
    const res = await admin(gateways.down).post('/api/v1/functions/invoke/hello').send({ data: 1 }).expect(503);
    expect(res.body).toMatchObject({ statusCode: 503, error: 'Service Unavailable' });
    expect(res.body.message).toMatch(/^the invoker at http:\/\/127\.0\.0\.1:\d+ is unreachable \(ECONNREFUSED\); is it running\?$/);
  });

  it('answers 429 with Retry-After once a client exceeds the rate limit', async () => {
    await admin(gateways.limited).get('/api/v1/functions/invoke/hello').expect(201);
    const res = await admin(gateways.limited).get('/api/v1/functions/invoke/hello').expect(429);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.message).toBe('Rate limit of 1 requests per second exceeded; retry in 1 s');
  });

  describe('with API keys', () => {
    const sec = () => request(gateways.secured.url);

    beforeAll(async () => {
      const triggers: Record<string, unknown[]> = {
        'open-fn': [{ type: 'http', auth: 'none' }],
        'locked-fn': [{ type: 'http', auth: 'api-key' }],
        'required-fn': [{ type: 'http', auth: 'required' }],
        'default-fn': [{ type: 'http' }],
        'no-trigger-fn': [],
      };
      for (const [label, t] of Object.entries(triggers)) {
        const res = await sec()
          .post('/api/v1/functions')
          .set(withKey)
          .send({ label, runtime: 'node', handler: 'module.exports = () => 1', config: { triggers: t } })
          .expect(201);
        ids[label] = res.body.id;
      }
    });
    const ids: Record<string, string> = {};

    /** A request sent as written: no client library normalising the path on the way. */
    const raw = (method: string, path: string, headers: Record<string, string> = {}) =>
      new Promise<number>((resolve, reject) => {
        const url = new URL(gateways.secured.url);
        const req = http.request({ host: url.hostname, port: url.port, method, path, headers }, (res) => {
          res.resume();
          res.on('end', () => resolve(res.statusCode ?? 0));
        });
        req.on('error', reject);
        req.end();
      });

    it('needs a key for data-style invocations and does not pass it on to the function', async () => {
      const before = invoker.seen.length;
      const res = await sec().post('/api/v1/functions/invoke/hello').send({ data: 1 }).expect(401);
      expect(res.body.message).toContain('An API key is required');
      expect(invoker.seen.length).toBe(before);
      await sec().post('/api/v1/functions/invoke/hello').set(withKey).send({ data: 1 }).expect(201);
      expect(last().headers.authorization).toBeUndefined();
    });

    it('protects /fn/{label} unless its http trigger says auth none ("required" and no auth mean a key)', async () => {
      const before = invoker.seen.length;
      for (const label of ['locked-fn', 'required-fn', 'default-fn', 'no-trigger-fn', 'no-such-fn']) {
        expect([label, (await sec().post(`/fn/${label}`).send({ a: 1 })).status]).toEqual([label, 401]);
        expect([label, (await sec().get(`/fn/${label}`).set('authorization', 'Bearer wrong-key')).status]).toEqual([label, 401]);
      }
      expect(invoker.seen.length).toBe(before);
      for (const label of ['required-fn', 'default-fn', 'no-trigger-fn']) await sec().get(`/fn/${label}`).set(withKey).expect(201);
    });

    it('lets an invoke key call the functions it names (by id or label) and nothing else', async () => {
      const created = await sec()
        .post('/api/v1/keys')
        .set(withKey)
        .send({ name: 'runner', scope: 'invoke', functions: ['locked-fn'] })
        .expect(201);
      const key = { authorization: `Bearer ${created.body.key}` };
      await sec().post('/api/v1/functions/invoke/locked-fn').set(key).send({ data: 1 }).expect(201);
      expect(last().headers.authorization).toBeUndefined();
      await sec().post(`/api/v1/functions/invoke/${ids['locked-fn']}`).set(key).send({ data: 1 }).expect(201);
      await sec().get('/fn/locked-fn/page').set(key).expect(201);
      const before = invoker.seen.length;
      const refused = await sec().post(`/api/v1/functions/invoke/${ids['required-fn']}`).set(key).send({ data: 1 }).expect(403);
      expect(refused.body.message).toBe(`This API key may not invoke function ${ids['required-fn']}`);
      await sec().get('/fn/required-fn').set(key).expect(403);
      await sec().get('/api/v1/functions/invoke/no-such-fn').set(key).expect(403);
      await sec().get('/api/v1/functions').set(key).expect(403);
      expect(invoker.seen.length).toBe(before);

      await sec().delete(`/api/v1/keys/${created.body.id}`).set(withKey).expect(200);
      await waitFor(async () => (await sec().get('/fn/locked-fn').set(key)).status === 401, { what: 'the revoked key to be refused' });
      await sec().post('/api/v1/functions/invoke/locked-fn').set(key).send({ data: 1 }).expect(401);
    });

    it('sends any other spelling of the invocation paths to the router, which has no handler for it', async () => {
      const before = invoker.seen.length;
      const spellings = [
        '/API/v1/functions/invoke/locked-fn',
        '/api/v1/Functions/invoke/locked-fn',
        '/api/v1/functions/invoke//locked-fn',
        '/api/v1//functions/invoke/locked-fn',
        '/api/v1/functions/./invoke/locked-fn',
        '/api/v1/functions/invoke/./locked-fn',
        '/api/v1/functions/invoke/../invoke/locked-fn',
        '/api/v1/functions/invoke/%2e%2e/locked-fn',
        '/api/v1/functions/invoke/%2E',
        '/api/v1/functions%2Finvoke%2Flocked-fn',
        '/api/v1/functions/invoke%2Flocked-fn',
        '/api/v1/functions/invok%65/locked-fn',
        '/FN/locked-fn',
        '/fn//locked-fn',
        '/fn/./locked-fn',
        '/fn/../fn/locked-fn',
        '/fn/%2e%2e/locked-fn',
        '/fn/locked-fn%2F..',
        '/f%6E/locked-fn',
        '/%66n/open-fn',
        '/fn%2Fopen-fn',
        '/fn/%E0%A4%A',
      ];
      for (const path of spellings) {
        for (const headers of [{}, { authorization: 'Bearer wrong-key' }] as Array<Record<string, string>>) {
          const status = await raw('POST', path, headers);
          // 400: the gateway refuses a path it cannot decode before any route sees it.
          expect([path, [400, 401, 403, 404].includes(status) ? 'refused' : status]).toEqual([path, 'refused']);
        }
        // Even an admin key does not turn an odd spelling into an invocation.
        await raw('POST', path, withKey);
      }
      expect(invoker.seen.length).toBe(before);
    });

    it('lets anyone call /fn/{label} when its http trigger says auth none', async () => {
      await sec().get('/fn/open-fn/page').expect(201);
      expect(last().url).toBe('/http/open-fn/page');
      expect((await sec().get('/fn/locked-fn/page').expect(401)).body.message).toContain('An API key is required');
      await sec().get('/fn/locked-fn/page').set('x-api-key', 'secret-key').expect(201);
      expect(last()).toMatchObject({ url: '/http/locked-fn/page' });
      expect(last().headers['x-api-key']).toBeUndefined();
    });

    it('starts asking for a key as soon as the trigger is changed to require one', async () => {
      await sec().get('/fn/open-fn').expect(201);
      await sec()
        .put('/api/v1/functions/open-fn')
        .set(withKey)
        .send({ config: { triggers: [{ type: 'http', auth: 'api-key' }] } })
        .expect(200);
      await waitFor(async () => (await sec().get('/fn/open-fn')).status === 401, { what: '/fn/open-fn to need a key' });
    });
  });
});
