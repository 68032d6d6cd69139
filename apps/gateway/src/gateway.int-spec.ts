import { Controller, INestApplication } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { readFileSync, statSync } from 'fs';
import * as http from 'http';
import * as path from 'path';
import request from 'supertest';
import { CloudEvent } from 'cloudevents';
import { Client } from 'pg';
import {
  DeploymentPatterns,
  fromCloudEvent,
  FUNCTIONS_PATH,
  FunctionView,
  labelProblem,
  newEvent,
  PlatformCloudEvent,
  RESERVED_LABELS,
} from '@platform/contracts';
import { EventPublisher } from '@platform/messaging';
// The gateway's integration tests talk to the real registry (built: `npm run build` first) over real RPC.
import { createTestDatabase, httpRoutes, isolatedEnv, removeNamespace, ServiceProcess, waitFor } from '@platform/testing';
import { INVOKE_PREFIX } from './proxy/invocation-proxy';
import { startGateway } from './testing/start-gateway';
import { startRpcStandIn } from './testing/rpc-stand-in';

/** Stands in for the deployer: READY at once, DEPLOYING for "slow", FAILED for "broken". */
@Controller()
class DeployerStandIn {
  @MessagePattern(DeploymentPatterns.Deploy)
  deploy(@Payload() p: { functionId: string }) {
    if (p.functionId === 'broken') return { id: 'd2', functionId: p.functionId, label: 'broken', status: 'FAILED', reason: 'the worker exited with code 1' };
    return { id: 'd1', functionId: p.functionId, status: p.functionId === 'slow' ? 'DEPLOYING' : 'READY', driver: 'local' };
  }
}

describe('gateway HTTP API against the real registry', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let registry: ServiceProcess;
  let deployer: INestApplication;
  let gateway: { app: INestApplication; url: string };
  let secured: { app: INestApplication; url: string };
  let adminKey: string;

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, RPC_TIMEOUT_MS: '3000' });
    registry = await ServiceProcess.start('function-registry', 'REGISTRY_PORT', iso.env);
    adminKey = readFileSync(path.join(iso.env.HKS_DATA_DIR, 'admin-key'), 'utf8').trim();

    deployer = await startRpcStandIn(iso.env, 'deployer', [DeployerStandIn]);

    gateway = await startGateway(iso.env);
    secured = await startGateway({ ...iso.env, HKS_API_KEYS: 'key-one,key-two' });
  });

  afterAll(async () => {
    await secured?.app.close();
    await gateway?.app.close();
    await deployer?.close();
    await registry?.stop();
    await db?.drop();
    if (iso)
      await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry', 'deployer', 'builder', 'event-store'], ['function-registry.builds']);
    iso?.cleanup();
  });

  const api = () => request.agent(gateway.url).set('authorization', `Bearer ${adminKey}`);
  const anonymous = () => request(gateway.url);
  const hello = { label: 'hello', runtime: 'node', handler: 'module.exports = (d) => d;' };

  describe('functions', () => {
    let created: FunctionView;

    it('creates a function and answers 201 with its view', async () => {
      const res = await api().post('/api/v1/functions').send(hello).expect(201);
      created = res.body;
      expect(created).toMatchObject({ label: 'hello', status: 'CREATED', version: 1, invokeUrl: `/api/v1/functions/invoke/${created.id}` });
    });

    it('answers 400 naming the field that is wrong', async () => {
      const res = await api().post('/api/v1/functions').send({ label: 'Not OK', runtime: 'cobol', handler: 'x' }).expect(400);
      expect(res.body.message).toContain('label must start with a lowercase letter, not "N"');
      const cobol = await api().post('/api/v1/functions').send({ label: 'cobol-fn', runtime: 'cobol', handler: 'x' }).expect(400);
      expect(cobol.body.message).toContain('runtime "cobol" is not supported; the platform runs node (');
    });

    it('answers 400 for a template that does not fit the runtime', async () => {
      const res = await api().post('/api/v1/functions').send({ label: 'mixed', runtime: 'python3.11', template: 'node', handler: 'x' }).expect(400);
      expect(res.body).toEqual({
        statusCode: 400,
        error: 'Bad Request',
        message: 'template "node" runs on node, but runtime "python3.11" is python; use a node runtime or the python template',
      });
    });

    it('answers 409 naming the label when it is taken', async () => {
      const res = await api().post('/api/v1/functions').send(hello).expect(409);
      expect(res.body.message).toContain('a function labelled "hello" already exists');
    });

    it('answers 400 when the body is not valid JSON', async () => {
      const res = await api().post('/api/v1/functions').set('content-type', 'application/json').send('{"label": "x",').expect(400);
      expect(res.body).toEqual({ statusCode: 400, error: 'Bad Request', message: 'The request body is not valid JSON' });
    });

    it('answers 431 with the error body when the request line is longer than the gateway reads', async () => {
      const res = await api()
        .get(`/api/v1/functions/${'a'.repeat(20_000)}`)
        .expect(431);
      expect(res.headers['content-type']).toMatch(/^application\/json/);
      expect(res.body).toMatchObject({ statusCode: 431, error: 'Request Header Fields Too Large' });
      expect(res.body.message).toContain('16 KB');
    });

    it("gets a function by id or label and answers 404 with the registry's message for neither", async () => {
      expect((await api().get(`/api/v1/functions/${created.id}`).expect(200)).body.label).toBe('hello');
      expect((await api().get('/api/v1/functions/hello').expect(200)).body.id).toBe(created.id);
      const res = await api().get('/api/v1/functions/nope').expect(404);
      expect(res.body).toMatchObject({ statusCode: 404, message: 'function "nope" does not exist' });
    });

    it('lists functions and validates the paging', async () => {
      const res = await api().get('/api/v1/functions?limit=10&label=hel').expect(200);
      expect(res.body).toMatchObject({ total: 1, limit: 10, offset: 0 });
      expect(res.body.items[0].label).toBe('hello');
      const bad = await api().get('/api/v1/functions?limit=lots').expect(400);
      expect(bad.body.message).toBe('limit must be a whole number from 1 to 500');
    });

    it('updates a function and makes a new version of changed code', async () => {
      const res = await api().put('/api/v1/functions/hello').send({ handler: 'module.exports = () => "v2";' }).expect(200);
      expect(res.body).toMatchObject({ version: 2, status: 'CREATED', handler: 'module.exports = () => "v2";' });
      const bad = await api().put('/api/v1/functions/hello').send({ colour: 'blue' }).expect(400);
      expect(bad.body.message).toBe('unknown field "colour"');
    });

    it('requests a build and answers 202 with the BUILDING function', async () => {
      const res = await api().post('/api/v1/functions/build/hello').expect(202);
      expect(res.body).toMatchObject({ label: 'hello', status: 'BUILDING', build: { status: 'QUEUED' } });
      const again = await api().post('/api/v1/functions/build/hello').expect(409);
      expect(again.body.message).toContain('function hello is already building');
    });

    it('answers 200 when the deployment is READY and 202 while it is still DEPLOYING', async () => {
      expect((await api().post('/api/v1/functions/deploy/hello').expect(200)).body).toMatchObject({ status: 'READY', functionId: 'hello' });
      expect((await api().post('/api/v1/functions/deploy/slow').expect(202)).body).toMatchObject({ status: 'DEPLOYING' });
    });

    it('answers 502 with the reason when the deployment failed', async () => {
      const res = await api().post('/api/v1/functions/deploy/broken').expect(502);
      expect(res.body.message).toBe('deployment of function broken failed: the worker exited with code 1');
    });

    it('answers 503 naming the service when it does not answer', async () => {
      const res = await api().get('/api/v1/functions/hello/builds').expect(503);
      expect(res.body.message).toBe('builder did not answer within 3000 ms; is it running?');
    });

    it('validates the stats query before asking anyone', async () => {
      const res = await api().get('/api/v1/functions/hello/stats?bucketSeconds=0').expect(400);
      expect(res.body.message).toContain('bucketSeconds must be a whole number of seconds');
    });

    it('deletes a function and then answers 404 for it', async () => {
      await api()
        .post('/api/v1/functions')
        .send({ ...hello, label: 'short-lived' })
        .expect(201);
      expect((await api().delete('/api/v1/functions/short-lived').expect(200)).body.label).toBe('short-lived');
      await api().get('/api/v1/functions/short-lived').expect(404);
    });
  });

  describe('documentation', () => {
    it('serves the Swagger UI and its JSON, not shadowed by GET /api/v1/functions/{id}', async () => {
      const ui = await api().get('/api/v1/functions/swagger-ui').redirects(1).expect(200);
      expect(ui.text).toContain('swagger-ui');
      const doc = (await api().get('/api/v1/functions/swagger-ui-json').expect(200)).body;
      expect(Object.keys(doc.paths)).toEqual(
        expect.arrayContaining([
          '/api/v1/functions',
          '/api/v1/functions/{id}',
          '/api/v1/functions/build/{id}',
          '/api/v1/functions/invoke/{id}',
          '/api/v3/events',
          '/api/v1/secrets/{name}',
        ]),
      );
      // runtime is required unless an image is sent (the validation says so; the schema cannot express "one of").
      expect(doc.components.schemas.CreateFunctionDto.required).toEqual(expect.arrayContaining(['label']));
      expect(doc.components.schemas.CreateFunctionDto.properties.runtime.description).toContain('Required unless `image` is sent');
    });
  });

  describe('labels', () => {
    const RULE = 'a label is 1-63 lowercase letters, digits or dashes, starting with a letter and ending with a letter or digit';
    const refused: Array<[string, string]> = [
      ...Object.keys(RESERVED_LABELS).map((word): [string, string] => [word, `label "${word}" is reserved: `]),
      ['1st-fn', `label must start with a lowercase letter, not "1" (${RULE}, so Knative takes it as a Service name)`],
      ['Hello', `label must start with a lowercase letter, not "H" (${RULE}, so Knative takes it as a Service name)`],
      ['hello-World', `label may contain only lowercase letters, digits and dashes, not "W" (${RULE})`],
      ['a'.repeat(64), `label must be at most 63 characters, it has 64 (${RULE}: Knative names a Service after it)`],
    ];

    it.each(refused)('answers 400 to creating a function labelled %j, saying why', async (label, message) => {
      const res = await api()
        .post('/api/v1/functions')
        .send({ ...hello, label })
        .expect(400);
      expect(res.body).toMatchObject({ statusCode: 400, error: 'Bad Request' });
      expect(res.body.message).toContain(message);
    });

    it('names the route that owns a reserved label', async () => {
      const res = await api()
        .post('/api/v1/functions')
        .send({ ...hello, label: 'invoke' })
        .expect(400);
      expect(res.body.message).toBe('label "invoke" is reserved: /api/v1/functions/invoke/... is the invoke route; choose another label');
    });

    it.each(refused)('answers 400 to renaming a function to %j, and leaves it as it was', async (label, message) => {
      await api()
        .post('/api/v1/functions')
        .send({ ...hello, label: 'renamed-fn' });
      const res = await api().put('/api/v1/functions/renamed-fn').send({ label }).expect(400);
      expect(res.body.message).toContain(message);
      expect((await api().get('/api/v1/functions/renamed-fn').expect(200)).body.label).toBe('renamed-fn');
    });

    it('still serves a function whose label was made under the old rule, and takes it back unchanged', async () => {
      const fn = (
        await api()
          .post('/api/v1/functions')
          .send({ ...hello, label: 'old-rule-fn' })
          .expect(201)
      ).body as FunctionView;
      // A label from before labels had to start with a letter, as it sits in the table.
      const pg = new Client({ connectionString: db.url });
      await pg.connect();
      try {
        await pg.query(`UPDATE registry.functions SET label = '7-old-fn' WHERE id = $1`, [fn.id]);
      } finally {
        await pg.end();
      }
      expect((await api().get('/api/v1/functions/7-old-fn').expect(200)).body.id).toBe(fn.id);
      const res = await api().put('/api/v1/functions/7-old-fn').send({ label: '7-old-fn', description: 'kept' }).expect(200);
      expect(res.body).toMatchObject({ id: fn.id, label: '7-old-fn', description: 'kept' });
      await api().delete('/api/v1/functions/7-old-fn').expect(200);
    });

    it('reserves every word the gateway routes as the first segment under /api/v1/functions', () => {
      const words = new Set<string>();
      for (const { path: route } of [...httpRoutes(gateway.app), { path: `${INVOKE_PREFIX}:id` }]) {
        if (!route.startsWith(`${FUNCTIONS_PATH}/`)) continue;
        const first = route.slice(FUNCTIONS_PATH.length + 1).split('/')[0];
        if (first && !/^[:{*]/.test(first)) words.add(first);
      }
      expect([...words]).toEqual(expect.arrayContaining(['invoke', 'build', 'deploy', 'swagger-ui', 'swagger-ui-json', 'swagger-ui-yaml']));
      for (const word of words) expect(labelProblem(word)).toMatch(`label "${word}" is reserved`);
    });
  });

  describe('secrets', () => {
    it('stores a secret and shows its keys, never its values', async () => {
      const put = await api()
        .put('/api/v1/secrets/db')
        .send({ values: { password: 'hunter2' } })
        .expect(200);
      expect(put.body).toMatchObject({ name: 'db', keys: ['password'] });
      const list = await api().get('/api/v1/secrets').expect(200);
      expect(JSON.stringify(list.body)).not.toContain('hunter2');
      expect((await api().get('/api/v1/secrets/db').expect(200)).body.keys).toEqual(['password']);
      await api().delete('/api/v1/secrets/db').expect(200);
      expect((await api().get('/api/v1/secrets/db').expect(404)).body.message).toBe('secret "db" does not exist');
    });

    it('answers 400 for a bad name or body', async () => {
      expect(
        (
          await api()
            .put('/api/v1/secrets/Bad_Name')
            .send({ values: { a: 'b' } })
            .expect(400)
        ).body.message,
      ).toContain('secret name must be');
      expect((await api().put('/api/v1/secrets/ok').send({ value: 'x' }).expect(400)).body.message).toContain('unknown field "value"');
    });
  });

  describe('events', () => {
    it('validates event queries and ids', async () => {
      expect((await api().get('/api/v3/events?type=not%20a%20type').expect(400)).body.message).toMatch(
        /^type "not a type" is not an event type: dot-separated words/,
      );
      expect((await api().get('/api/v3/events/not-a-uuid').expect(400)).body.message).toBe('event id must be a UUID');
      expect((await api().post('/api/v3/events').send({ type: 'FUNCTION_CREATED' }).expect(400)).body.message).toMatch(
        /^type FUNCTION_CREATED is one of the platform's own event types/,
      );
      expect(
        (
          await api()
            .post('/api/v3/events')
            .send({ type: 'x'.repeat(129) })
            .expect(400)
        ).body.message,
      ).toBe('type must be at most 128 characters (it has 129)');
    });

    it('streams new events that match the filter as Server-Sent Events', async () => {
      const frames: string[] = [];
      const req = http.get(`${gateway.url}/api/v3/events/stream?type=ORDER_PLACED`, { headers: { authorization: `Bearer ${adminKey}` } });
      const res = await new Promise<http.IncomingMessage>((resolve) => req.on('response', resolve));
      expect(res.statusCode).toBe(200);
      expect(res.headers['content-type']).toContain('text/event-stream');
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => frames.push(chunk));
      await waitFor(() => frames.join('').includes(': connected'), { what: 'stream opened' });
      const publisher = gateway.app.get(EventPublisher);
      const other = newEvent({ name: 'event.created', type: 'USER_CREATED', status: 'SUCCESS', source: 'test' });
      const wanted = newEvent({ name: 'event.created', type: 'ORDER_PLACED', status: 'SUCCESS', source: 'test', payload: { orderId: 7 } });
      const platform = newEvent({ name: 'invocation.succeeded', type: 'FUNCTION_INVOCATION', status: 'SUCCESS', source: 'invoker' });
      await publisher.publish(other);
      await publisher.publish(platform);
      await publisher.publish(wanted);
      await waitFor(() => frames.join('').includes(wanted.id), { what: 'the ORDER_PLACED event' });
      req.destroy();
      const text = frames.join('');
      // The frame is the CloudEvent of the bus: its type as the SSE event name, the event fields in data.
      expect(text).toContain(`id: ${wanted.id}\nevent: ORDER_PLACED\ndata: `);
      const data = JSON.parse(text.split('data: ')[1].split('\n')[0]) as PlatformCloudEvent;
      expect(data).toMatchObject({ specversion: '1.0', id: wanted.id, type: 'ORDER_PLACED', source: 'test', data: { payload: { orderId: 7 } } });
      expect(new CloudEvent({ ...data }).validate()).toBe(true);
      expect(fromCloudEvent(data)).toEqual(wanted);
      expect(text).not.toContain(other.id);
      expect(text).not.toContain(platform.id);
    });
  });

  describe('API keys', () => {
    const sec = () => request(secured.url);

    it('answers 401 saying how to send a key when a route is called without one', async () => {
      const res = await sec().get('/api/v1/functions').expect(401);
      expect(res.body.message).toMatch(/^An API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>"/);
      expect(res.headers['www-authenticate']).toContain('Bearer');
      await sec().post('/api/v3/events').send({ type: 'OTHER' }).expect(401);
      await anonymous().get('/api/v1/functions').expect(401);
    });

    it('accepts the keys of HKS_API_KEYS as a Bearer token or x-api-key, and refuses others', async () => {
      await sec().get('/api/v1/functions').set('authorization', 'Bearer key-one').expect(200);
      await sec().get('/api/v1/functions/hello').set('x-api-key', 'key-two').expect(200);
      expect((await sec().get('/api/v1/functions').set('authorization', 'Bearer key-three').expect(401)).body.message).toBe(
        'The API key is not valid (unknown or revoked)',
      );
    });

    it('keeps health and the documentation open', async () => {
      await sec().get('/healthz').expect(200);
      await anonymous().get('/readyz').expect(200);
      await sec().get('/api/v1/functions/swagger-ui-json').expect(200);
    });

    it('wrote the admin key of the first start to the data directory, readable by its owner only', () => {
      expect(adminKey).toMatch(/^hks_[A-Za-z0-9_-]{43}$/);
      expect(statSync(path.join(iso.env.HKS_DATA_DIR, 'admin-key')).mode & 0o777).toBe(0o600);
    });

    it('creates, lists and revokes keys; a revoked key stops working', async () => {
      const created = await api().post('/api/v1/keys').send({ name: 'ci', scope: 'admin' }).expect(201);
      expect(created.body).toMatchObject({ name: 'ci', scope: 'admin', functions: [], revokedAt: null });
      const key: string = created.body.key;
      expect(created.body.prefix).toBe(key.slice(0, 12));
      await anonymous().get('/api/v1/functions').set('authorization', `Bearer ${key}`).expect(200);
      const listed = (await api().get('/api/v1/keys').expect(200)).body as Array<Record<string, unknown>>;
      expect(listed.find((k) => k.id === created.body.id)).toEqual({ ...created.body, key: undefined });
      expect(JSON.stringify(listed)).not.toContain(key);
      const revoked = await api().delete(`/api/v1/keys/${created.body.id}`).expect(200);
      expect(revoked.body.revokedAt).toEqual(expect.any(String));
      await waitFor(async () => (await anonymous().get('/api/v1/functions').set('authorization', `Bearer ${key}`)).status === 401, {
        timeoutMs: 10_000,
        what: 'the revoked key to be refused',
      });
      await api().delete('/api/v1/keys/00000000-0000-4000-8000-000000000000').expect(404);
      expect((await api().delete('/api/v1/keys/nope').expect(400)).body.message).toBe('API key id must be a UUID');
    });

    it('answers 400 for a key it cannot make', async () => {
      const bad = async (body: unknown) =>
        (
          await api()
            .post('/api/v1/keys')
            .send(body as object)
            .expect(400)
        ).body.message as string;
      expect(await bad({ name: 'x', scope: 'invoke' })).toContain('an invoke key needs functions');
      expect(await bad({ name: 'x', scope: 'invoke', functions: ['no-such-function'] })).toBe(
        'function "no-such-function" does not exist; an invoke key can only name existing functions',
      );
      expect(await bad({ name: 'x', scope: 'root' })).toContain('scope must be one of admin, invoke');
      expect(await bad({ scope: 'admin' })).toContain('name is required');
      expect(await bad({ name: 'x', scope: 'admin', functions: ['hello'] })).toContain('an admin key may call every function');
    });

    it('gives an invoke key no other route', async () => {
      const fn = await api()
        .post('/api/v1/functions')
        .send({ ...hello, label: 'runner-fn' })
        .expect(201);
      const created = await api()
        .post('/api/v1/keys')
        .send({ name: 'runner', scope: 'invoke', functions: ['runner-fn'] })
        .expect(201);
      expect(created.body.functions).toEqual([fn.body.id]);
      const res = await anonymous().get('/api/v1/functions').set('authorization', `Bearer ${created.body.key}`).expect(403);
      expect(res.body.message).toBe('This API key may only invoke the functions it names; this route needs an admin key');
      await anonymous().get('/api/v1/keys').set('authorization', `Bearer ${created.body.key}`).expect(403);
    });

    it('finds no handler for odd spellings of a route', async () => {
      await api().get('/API/v1/functions').expect(404);
      await api().get('/api/v1/functions/').expect(404);
      await anonymous().get('/Api/v1/secrets').expect(404);
    });
  });
});
