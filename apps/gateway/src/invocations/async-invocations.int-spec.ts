import { Controller, INestApplication } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { createHash, randomUUID } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import request from 'supertest';
import {
  AcceptedInvocation,
  AcceptInvocationCommand,
  DomainError,
  FunctionView,
  InvocationListQueryDto,
  InvocationPatterns,
  InvocationView,
  invocationStatusUrl,
  NotFoundError,
  RedriveManyDto,
  ReplayInvocationDto,
  StateError,
} from '@platform/contracts';
// The real registry (built: `npm run build` first) resolves the functions, over real RPC; the deployer is a stand-in.
import { createTestDatabase, isolatedEnv, removeNamespace, ServiceProcess } from '@platform/testing';
import { startGateway } from '../testing/start-gateway';
import { startRpcStandIn } from '../testing/rpc-stand-in';

const KNOWN = '0f9a3c52-6b1e-4d7a-9c2e-5a8b7d6e4f31';
const RUNNING = '7c1d2e3f-4a5b-4c6d-8e9f-0a1b2c3d4e5f';
const DEAD = '2b3c4d5e-6f70-4182-93a4-b5c6d7e8f901';
/** An invocation of the real function async-fn (its id set once created), for the invoke key's checks. */
const MINE = '3c4d5e6f-7081-4293-a4b5-c6d7e8f90a1b';

function view(id: string, status: InvocationView['status'] = 'queued'): InvocationView {
  const now = new Date().toISOString();
  return {
    id,
    functionId: '11111111-2222-4333-8444-555555555555',
    label: 'async-fn',
    async: true,
    status,
    source: 'api',
    version: null,
    maxAttempts: 3,
    attempts: [],
    result: null,
    error: null,
    nextAttemptAt: now,
    acceptedAt: now,
    finishedAt: null,
    callback: null,
    idempotencyKey: null,
    replayOf: null,
    request: { style: 'data', method: 'POST', path: '/', query: '', headers: {}, body: '' },
  };
}

/** Stands in for the deployer's InvocationPatterns handlers: records what it was asked, answers as the design says. */
class DeployerRecords {
  readonly accepted: AcceptInvocationCommand[] = [];
  readonly asked: Array<{ pattern: string; payload: unknown }> = [];
  readonly keys = new Map<string, { id: string; hash: string }>();
  full = new Set<string>();
  /** Invocations of another function than the stand-in view's. */
  readonly functionOf = new Map<string, string>();
}
const records = new DeployerRecords();

@Controller()
class DeployerStandIn {
  @MessagePattern(InvocationPatterns.Accept)
  accept(@Payload() c: AcceptInvocationCommand): AcceptedInvocation {
    records.accepted.push(c);
    if (records.full.has(c.functionId))
      throw new DomainError(429, 'function async-fn has 10 asynchronous invocations queued (scaling.asyncQueueSize): try later');
    const hash = createHash('sha256').update(JSON.stringify(c.request)).digest('hex');
    const earlier = c.idempotencyKey ? records.keys.get(c.idempotencyKey) : undefined;
    if (earlier && earlier.hash !== hash) throw new DomainError(422, `idempotency key ${c.idempotencyKey} was used for a different request`);
    const id = earlier?.id ?? randomUUID();
    if (c.idempotencyKey && !earlier) records.keys.set(c.idempotencyKey, { id, hash });
    return { invocationId: id, functionId: c.functionId, status: 'queued', statusUrl: invocationStatusUrl(id), duplicate: !!earlier };
  }

  @MessagePattern(InvocationPatterns.Get)
  get(@Payload() p: { id: string }): InvocationView {
    records.asked.push({ pattern: InvocationPatterns.Get, payload: p });
    const functionId = records.functionOf.get(p.id);
    if (functionId) return { ...view(p.id), functionId };
    if (p.id !== KNOWN) throw new NotFoundError(`no invocation has the id ${p.id}`);
    return view(p.id);
  }

  @MessagePattern(InvocationPatterns.List)
  list(@Payload() q: InvocationListQueryDto) {
    records.asked.push({ pattern: InvocationPatterns.List, payload: q });
    return { items: [view(KNOWN)], next: null };
  }

  @MessagePattern(InvocationPatterns.Cancel)
  cancel(@Payload() p: { id: string }): InvocationView {
    records.asked.push({ pattern: InvocationPatterns.Cancel, payload: p });
    if (p.id === RUNNING) throw new StateError(`invocation ${p.id} is running: only a queued invocation can be cancelled`);
    return view(p.id, 'cancelled');
  }

  @MessagePattern(InvocationPatterns.Redrive)
  redrive(@Payload() p: { id: string }): InvocationView {
    records.asked.push({ pattern: InvocationPatterns.Redrive, payload: p });
    return view(p.id, 'queued');
  }

  @MessagePattern(InvocationPatterns.RedriveMany)
  redriveMany(@Payload() p: RedriveManyDto) {
    records.asked.push({ pattern: InvocationPatterns.RedriveMany, payload: p });
    return { redriven: 1, ids: [DEAD] };
  }

  @MessagePattern(InvocationPatterns.Replay)
  replay(@Payload() p: ReplayInvocationDto): AcceptedInvocation {
    records.asked.push({ pattern: InvocationPatterns.Replay, payload: p });
    const id = randomUUID();
    return { invocationId: id, functionId: view(p.id).functionId, status: 'queued', statusUrl: invocationStatusUrl(id), duplicate: false };
  }

  @MessagePattern(InvocationPatterns.CallbackKey)
  callbackKey() {
    return {
      algorithm: 'ed25519',
      publicKey: 'MCowBQYDK2VwAyEA',
      publicKeyPem: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n',
      scheme: 'v1a',
    };
  }
}

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
}

/** The invoker, for the synchronous path: answers 200 with what it got. */
function startInvoker(): Promise<{ server: http.Server; url: string; seen: Seen[] }> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers });
      res.writeHead(200, { 'content-type': 'application/json' }).end('{"sync":true}');
    });
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen })),
  );
}

describe('asynchronous invocations at the gateway: the 202 accept path and the /api/v1/invocations routes', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let registry: ServiceProcess;
  let deployer: INestApplication | undefined;
  let invoker: Awaited<ReturnType<typeof startInvoker>>;
  let gateway: { app: INestApplication; url: string };
  let small: { app: INestApplication; url: string };
  let fn: FunctionView;
  let open: FunctionView;
  let doc: { components: Record<string, unknown> };
  let ajv: Ajv;

  beforeAll(async () => {
    db = await createTestDatabase();
    invoker = await startInvoker();
    iso = isolatedEnv({ DATABASE_URL: db.url, INVOKER_URL: invoker.url, RPC_TIMEOUT_MS: '2000', HKS_API_KEYS: 'secret-key' });
    registry = await ServiceProcess.start('function-registry', 'REGISTRY_PORT', iso.env);

    deployer = await startRpcStandIn(iso.env, 'deployer', [DeployerStandIn]);

    gateway = await startGateway(iso.env);
    small = await startGateway({ ...iso.env, GATEWAY_ASYNC_MAX_BODY_BYTES: '1024' });
    fn = (await api().post('/api/v1/functions').send({ label: 'async-fn', runtime: 'node', handler: 'module.exports = (d) => d;' }).expect(201)).body;
    open = (
      await api()
        .post('/api/v1/functions')
        .send({ label: 'open-async-fn', runtime: 'node', handler: 'module.exports = (d) => d;', config: { triggers: [{ type: 'http', auth: 'none' }] } })
        .expect(201)
    ).body;
    doc = (await request(gateway.url).get('/api/v1/functions/swagger-ui-json').expect(200)).body;
    ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    ajv.addSchema({ components: doc.components }, 'doc');
  }, 90_000);

  afterAll(async () => {
    await small?.app.close();
    await gateway?.app.close();
    await deployer?.close();
    await registry?.stop();
    await new Promise((r) => invoker?.server.close(r));
    await db?.drop();
    if (iso)
      await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry', 'deployer', 'builder', 'event-store'], ['function-registry.builds']);
    iso?.cleanup();
  });

  const api = (g = gateway) => request.agent(g.url).set('authorization', 'Bearer secret-key');
  const lastAccepted = () => records.accepted[records.accepted.length - 1];
  /** The body matches the document's schema `model`. */
  const matches = (body: unknown, model: string) => {
    const validate = ajv.compile({ $ref: `doc#/components/schemas/${model}` });
    expect({ model, errors: validate(body) ? [] : validate.errors }).toEqual({ model, errors: [] });
  };

  describe('asking for it', () => {
    it('accepts Prefer: respond-async with 202, the AcceptedInvocation, Location, Preference-Applied and x-invocation-id', async () => {
      const res = await api()
        .post('/api/v1/functions/invoke/async-fn/sub/path?a=1&b=two')
        .set('prefer', 'respond-async, wait=5')
        .set('content-type', 'application/json')
        .set('x-custom', 'kept')
        .send({ data: { name: 'Alice' } })
        .expect(202);
      expect(res.body).toEqual({
        invocationId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        functionId: fn.id,
        status: 'queued',
        statusUrl: `/api/v1/invocations/${res.body.invocationId}`,
        duplicate: false,
      });
      matches(res.body, 'AcceptedInvocation');
      expect(res.headers.location).toBe(res.body.statusUrl);
      expect(res.headers['preference-applied']).toBe('respond-async');
      expect(res.headers['x-invocation-id']).toBe(res.body.invocationId);
      const c = lastAccepted();
      expect(c).toMatchObject({ functionId: fn.id, source: 'api', request: { style: 'data', method: 'POST', path: '/sub/path', query: 'a=1&b=two' } });
      expect(JSON.parse(Buffer.from(c.request.body, 'base64').toString('utf8'))).toEqual({ data: { name: 'Alice' } });
      expect(c.request.headers).toMatchObject({ 'x-custom': 'kept', 'content-type': 'application/json', 'x-forwarded-for': '127.0.0.1' });
      // Neither the key nor what asked for the async run is stored with the request.
      for (const h of ['authorization', 'x-api-key', 'prefer', 'content-length', 'connection']) expect(c.request.headers).not.toHaveProperty(h);
      expect(invoker.seen).toHaveLength(0);
    });

    it('accepts X-Invocation-Type: Event (any case), and says nothing of a preference it was not asked', async () => {
      const res = await api().post('/api/v1/functions/invoke/async-fn').set('x-invocation-type', 'event').send({ data: 1 }).expect(202);
      expect(res.headers['preference-applied']).toBeUndefined();
      expect(lastAccepted()).toMatchObject({ request: { path: '/', query: '' } });
      expect(lastAccepted().request.headers).not.toHaveProperty('x-invocation-type');
    });

    it('accepts an X-Callback-Url as asking for async, and hands the URL to the deployer (not to the function)', async () => {
      await api().post(`/api/v1/functions/invoke/${fn.id}`).set('x-callback-url', 'https://example.com/hooks/hks?x=1').send({ data: 1 }).expect(202);
      expect(lastAccepted()).toMatchObject({ functionId: fn.id, callbackUrl: 'https://example.com/hooks/hks?x=1' });
      expect(lastAccepted().request.headers).not.toHaveProperty('x-callback-url');
    });

    it('accepts HTTP-style /fn/{label} invocations as style http, source http; an open function needs no key', async () => {
      await request(gateway.url)
        .put('/fn/open-async-fn/items/7?q=1')
        .set('prefer', 'respond-async')
        .set('content-type', 'text/plain')
        .send('hello')
        .expect(202);
      const c = lastAccepted();
      expect(c).toMatchObject({ functionId: open.id, source: 'http', request: { style: 'http', method: 'PUT', path: '/items/7', query: 'q=1' } });
      expect(Buffer.from(c.request.body, 'base64').toString('utf8')).toBe('hello');
      // A protected one still needs its key, async or not.
      const refused = await request(gateway.url).post('/fn/async-fn').set('prefer', 'respond-async').send({}).expect(401);
      expect(refused.body.message).toMatch(/An API key is required/);
    });

    it('keeps a plain request (and Prefer without respond-async, X-Invocation-Type: RequestResponse) synchronous', async () => {
      const before = records.accepted.length;
      await api().post('/api/v1/functions/invoke/async-fn').send({ data: 1 }).expect(200, { sync: true });
      await api().post('/api/v1/functions/invoke/async-fn').set('prefer', 'return=minimal').send({ data: 1 }).expect(200);
      await api().post('/api/v1/functions/invoke/async-fn').set('x-invocation-type', 'RequestResponse').send({ data: 1 }).expect(200);
      expect(records.accepted).toHaveLength(before);
      expect(invoker.seen.slice(-3).map((s) => s.url)).toEqual(['/invoke/async-fn', '/invoke/async-fn', '/invoke/async-fn']);
    });

    it('drops every x-hks-* header of a public request, synchronous and asynchronous', async () => {
      const forged = {
        'x-hks-invocation-id': randomUUID(),
        'x-hks-attempt': '7',
        'x-hks-trigger': 'schedule',
        'x-hks-anything': 'no',
        'x-hks-caller': 'forged',
      };
      await api().post('/api/v1/functions/invoke/async-fn').set(forged).send({ data: 1 }).expect(200);
      const sent = invoker.seen[invoker.seen.length - 1].headers;
      // The gateway's own: its credential, and the caller a sticky split hashes (the key's id, never the client's value).
      expect(
        Object.keys(sent)
          .filter((h) => h.startsWith('x-hks-'))
          .sort(),
      ).toEqual(['x-hks-caller', 'x-hks-internal-token']);
      expect(sent['x-hks-caller']).not.toBe('forged');
      await api().post('/api/v1/functions/invoke/async-fn').set(forged).set('prefer', 'respond-async').send({ data: 1 }).expect(202);
      expect(Object.keys(lastAccepted().request.headers).filter((h) => h.startsWith('x-hks-'))).toEqual([]);
    });
  });

  describe('idempotency', () => {
    it('answers a repeated Idempotency-Key with the same invocation, duplicate: true; X-Idempotency-Key works too', async () => {
      const first = await api()
        .post('/api/v1/functions/invoke/async-fn')
        .set('prefer', 'respond-async')
        .set('idempotency-key', 'order-42')
        .send({ data: 1 })
        .expect(202);
      const again = await api()
        .post('/api/v1/functions/invoke/async-fn')
        .set('prefer', 'respond-async')
        .set('x-idempotency-key', 'order-42')
        .send({ data: 1 })
        .expect(202);
      expect(first.body.duplicate).toBe(false);
      expect(again.body).toMatchObject({ invocationId: first.body.invocationId, duplicate: true });
      expect(lastAccepted().idempotencyKey).toBe('order-42');
      expect(lastAccepted().request.headers).not.toHaveProperty('x-idempotency-key');
    });

    it("passes the deployer's 422 through when the key was used for a different request", async () => {
      const res = await api()
        .post('/api/v1/functions/invoke/async-fn')
        .set('prefer', 'respond-async')
        .set('idempotency-key', 'order-42')
        .send({ data: 2 })
        .expect(422);
      expect(res.body).toEqual({ statusCode: 422, error: 'Unprocessable Entity', message: 'idempotency key order-42 was used for a different request' });
    });
  });

  describe('refusals', () => {
    const asyncPost = (g = gateway) => api(g).post('/api/v1/functions/invoke/async-fn').set('prefer', 'respond-async');

    it('answers 413 with the limit for a body over GATEWAY_ASYNC_MAX_BODY_BYTES, announced or streamed', async () => {
      const res = await asyncPost(small).set('content-type', 'text/plain').send('x'.repeat(2048)).expect(413);
      expect(res.body.message).toBe(
        'the request body is larger than the 1024 bytes an asynchronous invocation may carry (GATEWAY_ASYNC_MAX_BODY_BYTES); send less, or invoke it synchronously',
      );
      // Chunked, with no length said: cut as it passes the limit.
      const chunked = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = http.request(`${small.url}/api/v1/functions/invoke/async-fn`, {
          method: 'POST',
          headers: { authorization: 'Bearer secret-key', prefer: 'respond-async', 'transfer-encoding': 'chunked' },
        });
        req.on('response', (r) => {
          let body = '';
          r.on('data', (c: Buffer) => (body += c.toString()));
          r.on('end', () => resolve({ status: r.statusCode!, body }));
        });
        req.on('error', reject);
        for (let i = 0; i < 4; i++) req.write('y'.repeat(600));
        req.end();
      });
      expect(chunked.status).toBe(413);
      expect(JSON.parse(chunked.body).message).toMatch(/larger than the 1024 bytes/);
      // A body within the limit is accepted by the same gateway.
      await asyncPost(small).set('content-type', 'text/plain').send('x'.repeat(1000)).expect(202);
    });

    it('answers 400 for an X-Callback-Url that is not an absolute http(s) URL or is too long', async () => {
      const said = async (url: string) => (await asyncPost().set('x-callback-url', url).send({}).expect(400)).body.message as string;
      expect(await said('/relative/path')).toBe('X-Callback-Url "/relative/path" is not an absolute URL: send one like https://example.com/hooks/hks');
      expect(await said('ftp://example.com/x')).toBe('X-Callback-Url must be an http:// or https:// URL, not ftp:');
      expect(await said(`https://example.com/${'a'.repeat(2100)}`)).toBe('X-Callback-Url is 2120 characters long; at most 2048 are allowed');
    });

    it('answers 400 for an Idempotency-Key that is empty, too long, not printable, or disagrees with X-Idempotency-Key', async () => {
      const said = async (headers: Record<string, string>) => (await asyncPost().set(headers).send({}).expect(400)).body.message as string;
      expect(await said({ 'idempotency-key': 'k'.repeat(256) })).toBe('Idempotency-Key is 256 characters long; at most 255 are allowed');
      expect(await said({ 'idempotency-key': 'tab\there' })).toBe('Idempotency-Key may hold only printable ASCII characters (space to ~)');
      expect(await said({ 'idempotency-key': 'a', 'x-idempotency-key': 'b' })).toBe('Idempotency-Key and X-Idempotency-Key differ: send one of them');
      expect(await said({ 'x-idempotency-key': '' })).toBe('X-Idempotency-Key is empty: send 1 to 255 printable characters, or leave it out');
    });

    it('answers 400 for a path with dot segments or backslashes, which would leave the function when sent again later', async () => {
      // Sent as written (a client library would resolve the dots itself).
      const raw = (pathname: string) =>
        new Promise<{ status: number; body: { message?: string } }>((resolve, reject) => {
          const url = new URL(gateway.url);
          const req = http.request(
            {
              host: url.hostname,
              port: url.port,
              method: 'POST',
              path: pathname,
              headers: { authorization: 'Bearer secret-key', prefer: 'respond-async', 'content-type': 'application/json' },
            },
            (res) => {
              let text = '';
              res.on('data', (c: Buffer) => (text += c.toString()));
              res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) as { message?: string } }));
            },
          );
          req.on('error', reject);
          req.end('{}');
        });
      const before = records.accepted.length;
      for (const pathname of [
        '/api/v1/functions/invoke/async-fn/../open-async-fn',
        '/api/v1/functions/invoke/async-fn/%2e%2E/%2e%2e/deployments/x',
        '/api/v1/functions/invoke/async-fn/a/./b',
        '/fn/open-async-fn/a\\..\\..\\http\\async-fn',
      ]) {
        const res = await raw(pathname);
        expect([pathname, res.status]).toEqual([pathname, 400]);
        expect(res.body.message).toMatch(/^an asynchronous invocation is sent again later, so the path after the function name may not contain/);
      }
      expect(records.accepted).toHaveLength(before);
    });

    it('answers 404 for a function that does not exist, without asking the deployer', async () => {
      const before = records.accepted.length;
      const res = await api().post('/api/v1/functions/invoke/no-such-fn').set('prefer', 'respond-async').send({}).expect(404);
      expect(res.body.message).toBe('No function has the id or label no-such-fn');
      expect(records.accepted).toHaveLength(before);
    });

    it("passes the deployer's 429 through when the function's async queue is full", async () => {
      records.full.add(fn.id);
      try {
        const res = await api().post('/api/v1/functions/invoke/async-fn').set('prefer', 'respond-async').send({}).expect(429);
        expect(res.body.message).toMatch(/scaling\.asyncQueueSize/);
      } finally {
        records.full.delete(fn.id);
      }
    });
  });

  describe('routes', () => {
    it('GET /api/v1/invocations passes the query on, validated', async () => {
      const res = await api().get(`/api/v1/invocations?functionId=${fn.id}&status=dead&limit=20`).expect(200);
      matches(res.body, 'InvocationPage');
      expect(records.asked[records.asked.length - 1]).toEqual({ pattern: InvocationPatterns.List, payload: { functionId: fn.id, status: 'dead', limit: 20 } });
      expect((await api().get('/api/v1/invocations?status=lost').expect(400)).body.message).toMatch(
        /status must be one of queued, running, succeeded, failed, dead, cancelled/,
      );
      expect((await api().get('/api/v1/invocations?limit=0').expect(400)).body.message).toMatch(/limit must be a whole number from 1 to 500/);
      expect((await api().get('/api/v1/invocations?functionId=async-fn').expect(400)).body.message).toMatch(/functionId must be a function id \(UUID\)/);
    });

    it('GET /api/v1/invocations/{id}: the view, 404 from the deployer, 400 for an id that is not a UUID', async () => {
      matches((await api().get(`/api/v1/invocations/${KNOWN}`).expect(200)).body, 'InvocationView');
      expect((await api().get(`/api/v1/invocations/${DEAD}`).expect(404)).body.message).toBe(`no invocation has the id ${DEAD}`);
      expect((await api().get('/api/v1/invocations/not-an-id').expect(400)).body.message).toBe('the invocation id must be a UUID');
    });

    it('GET /api/v1/invocations/callback-key is the key, not an invocation id', async () => {
      const res = await api().get('/api/v1/invocations/callback-key').expect(200);
      matches(res.body, 'CallbackKeyView');
      expect(res.body.algorithm).toBe('ed25519');
    });

    it('POST /api/v1/invocations/{id}/cancel and /redrive answer the view; 409 from the deployer passes through', async () => {
      expect((await api().post(`/api/v1/invocations/${KNOWN}/cancel`).expect(200)).body.status).toBe('cancelled');
      const refused = await api().post(`/api/v1/invocations/${RUNNING}/cancel`).expect(409);
      expect(refused.body.message).toBe(`invocation ${RUNNING} is running: only a queued invocation can be cancelled`);
      expect((await api().post(`/api/v1/invocations/${DEAD}/redrive`).expect(200)).body.status).toBe('queued');
      expect(records.asked[records.asked.length - 1]).toEqual({ pattern: InvocationPatterns.Redrive, payload: { id: DEAD } });
      await api().post('/api/v1/invocations/123/cancel').expect(400);
      await api().post('/api/v1/invocations/123/redrive').expect(400);
    });

    it('POST /api/v1/invocations/redrive redrives the dead letters asked for; a bad body is 400', async () => {
      const res = await api().post('/api/v1/invocations/redrive').send({ functionId: fn.id }).expect(200);
      expect(res.body).toEqual({ redriven: 1, ids: [DEAD] });
      expect(records.asked[records.asked.length - 1]).toEqual({ pattern: InvocationPatterns.RedriveMany, payload: { functionId: fn.id } });
      await api().post('/api/v1/invocations/redrive').expect(200);
      expect(
        (
          await api()
            .post('/api/v1/invocations/redrive')
            .send({ ids: ['x'] })
            .expect(400)
        ).body.message,
      ).toMatch(/each of ids must be an invocation id/);
    });

    it('POST /api/v1/invocations/{id}/replay answers 202 with the new invocation and its Location; version is checked', async () => {
      const res = await api().post(`/api/v1/invocations/${KNOWN}/replay`).send({ version: 'original' }).expect(202);
      matches(res.body, 'AcceptedInvocation');
      expect(res.headers.location).toBe(res.body.statusUrl);
      expect(res.headers['x-invocation-id']).toBe(res.body.invocationId);
      expect(records.asked[records.asked.length - 1]).toEqual({ pattern: InvocationPatterns.Replay, payload: { id: KNOWN, version: 'original' } });
      await api().post(`/api/v1/invocations/${KNOWN}/replay`).expect(202);
      expect(records.asked[records.asked.length - 1]).toEqual({ pattern: InvocationPatterns.Replay, payload: { id: KNOWN } });
      expect((await api().post(`/api/v1/invocations/${KNOWN}/replay`).send({ version: 'v2' }).expect(400)).body.message).toMatch(
        /version must be "current" or "original"/,
      );
      await api().post('/api/v1/invocations/nope/replay').expect(400);
    });

    it("need an admin key, except GET and cancel of one invocation, which an invoke key may use for its functions' own", async () => {
      await request(gateway.url).get('/api/v1/invocations').expect(401);
      await request(gateway.url).get(`/api/v1/invocations/${KNOWN}`).expect(401);
      const key = (
        await api()
          .post('/api/v1/keys')
          .send({ name: 'invoker', scope: 'invoke', functions: ['async-fn'] })
          .expect(201)
      ).body.key as string;
      const asKey = (r: request.Test) => r.set('authorization', `Bearer ${key}`);
      records.functionOf.set(MINE, fn.id);
      expect((await asKey(request(gateway.url).get(`/api/v1/invocations/${MINE}`)).expect(200)).body).toMatchObject({ id: MINE, functionId: fn.id });
      await asKey(request(gateway.url).post(`/api/v1/invocations/${MINE}/cancel`)).expect(200);
      // Another function's invocation does not exist for this key (its id cannot be probed).
      const cancels = () => records.asked.filter((a) => a.pattern === InvocationPatterns.Cancel).length;
      const before = cancels();
      await asKey(request(gateway.url).get(`/api/v1/invocations/${KNOWN}`)).expect(404);
      await asKey(request(gateway.url).post(`/api/v1/invocations/${KNOWN}/cancel`)).expect(404);
      expect(cancels()).toBe(before);
      for (const [method, path] of [
        ['get', '/api/v1/invocations'],
        ['get', '/api/v1/invocations/callback-key'],
        ['post', `/api/v1/invocations/${MINE}/redrive`],
        ['post', `/api/v1/invocations/${MINE}/replay`],
        ['post', '/api/v1/invocations/redrive'],
      ] as const) {
        await asKey(request(gateway.url)[method](path)).expect(403);
      }
      // ... while that invoke key may ask for an async invocation of its function.
      await request(gateway.url)
        .post('/api/v1/functions/invoke/async-fn')
        .set('authorization', `Bearer ${key}`)
        .set('prefer', 'respond-async')
        .send({})
        .expect(202);
    });
  });

  // Last: it stops the deployer stand-in.
  it('answers 503 naming the deployer when it does not answer', async () => {
    await deployer!.close();
    deployer = undefined;
    const res = await api().post('/api/v1/functions/invoke/async-fn').set('prefer', 'respond-async').send({ data: 1 }).expect(503);
    expect(res.body).toEqual({
      statusCode: 503,
      error: 'Service Unavailable',
      message:
        'deployer did not answer within 2000 ms; is it running? (it may have been stored all the same: send it again with the same Idempotency-Key to have it run once)',
    });
    expect((await api().get('/api/v1/invocations').expect(503)).body.message).toBe('deployer did not answer within 2000 ms; is it running?');
  }, 15_000);
});
