import { INestApplication } from '@nestjs/common';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { execFile } from 'child_process';
import { readFileSync, writeFileSync } from 'fs';
import * as path from 'path';
import request from 'supertest';
import { promisify } from 'util';
// The document is checked against the real registry's answers (built: `npm run build` first).
import { createTestDatabase, isolatedEnv, removeNamespace, ServiceProcess } from '@platform/testing';
import { startGateway } from './testing/start-gateway';

type Schema = Record<string, unknown>;
interface Operation {
  operationId?: string;
  summary?: string;
  tags?: string[];
  security?: unknown[];
  responses: Record<string, { content?: Record<string, { schema?: Schema }>; headers?: Record<string, unknown> }>;
}
interface Document {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

function operations(doc: Document): Array<{ path: string; method: string; op: Operation }> {
  return Object.entries(doc.paths).flatMap(([p, item]) =>
    Object.entries(item)
      .filter(([m]) => METHODS.includes(m))
      .map(([method, op]) => ({ path: p, method, op })),
  );
}

/** Every schema object in the components, with where it sits. */
function schemas(doc: Document): Array<{ at: string; schema: Schema }> {
  const out: Array<{ at: string; schema: Schema }> = [];
  const walk = (s: unknown, at: string): void => {
    if (!s || typeof s !== 'object' || Array.isArray(s)) return;
    const schema = s as Schema;
    out.push({ at, schema });
    for (const [k, v] of Object.entries((schema.properties as Record<string, unknown>) ?? {})) walk(v, `${at}.${k}`);
    if (schema.items) walk(schema.items, `${at}[]`);
    if (typeof schema.additionalProperties === 'object') walk(schema.additionalProperties, `${at}{}`);
    for (const c of ['allOf', 'oneOf', 'anyOf']) ((schema[c] as unknown[]) ?? []).forEach((x, i) => walk(x, `${at}.${c}[${i}]`));
  };
  for (const [name, s] of Object.entries(doc.components.schemas)) walk(s, name);
  return out;
}

describe('the OpenAPI document the gateway serves', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let iso: ReturnType<typeof isolatedEnv>;
  let registry: ServiceProcess;
  let gateway: { app: INestApplication; url: string };
  let adminKey: string;
  let doc: Document;

  beforeAll(async () => {
    db = await createTestDatabase();
    iso = isolatedEnv({ DATABASE_URL: db.url, RPC_TIMEOUT_MS: '2000' });
    registry = await ServiceProcess.start('function-registry', 'REGISTRY_PORT', iso.env);
    adminKey = readFileSync(path.join(iso.env.HKS_DATA_DIR, 'admin-key'), 'utf8').trim();
    gateway = await startGateway(iso.env);
    doc = (await request(gateway.url).get('/api/v1/functions/swagger-ui-json').expect(200)).body as Document;
  });

  afterAll(async () => {
    await gateway?.app.close();
    await registry?.stop();
    await db?.drop();
    if (iso) await removeNamespace(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE, ['function-registry', 'deployer', 'builder', 'event-store']);
    iso?.cleanup();
  });

  const api = () => request.agent(gateway.url).set('authorization', `Bearer ${adminKey}`);
  const ROOT = path.join(__dirname, '../../..');
  /** The document as a file, for the tools that read one (they run as their own processes: both are ES modules). */
  const documentFile = () => {
    const file = path.join(iso.dataDir, 'openapi.json');
    writeFileSync(file, JSON.stringify(doc));
    return file;
  };

  it('is a valid OpenAPI 3.0 document (swagger-parser)', async () => {
    const script =
      "import SwaggerParser from '@apidevtools/swagger-parser'; const api = await SwaggerParser.validate(process.argv[1]); console.log(api.openapi);";
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, documentFile()], { cwd: ROOT, timeout: 30_000 });
    expect(stdout.trim()).toBe('3.0.0');
  }, 40_000);

  it('passes redocly lint without errors; its only warnings are the word routes, which reserved labels make unambiguous', async () => {
    const bin = path.join(ROOT, 'node_modules/.bin/redocly');
    const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' };
    // redocly exits 1 on warnings too; the report says which.
    const { stdout } = await promisify(execFile)(bin, ['lint', documentFile(), '--format', 'json'], { env, timeout: 30_000 }).catch(
      (e: { stdout: string }) => e,
    );
    const report = JSON.parse(stdout) as { totals: { errors: number }; problems: Array<{ ruleId: string; location: Array<{ pointer: string }> }> };
    expect(report.totals.errors).toBe(0);
    expect([...new Set(report.problems.map((p) => p.ruleId))]).toEqual(['no-ambiguous-paths']);
    for (const ambiguous of report.problems.map((p) => decodeURIComponent(p.location[0].pointer).replace(/~1/g, '/'))) {
      const item = doc.paths[ambiguous.replace('#/paths/', '')];
      for (const op of Object.values(item)) expect((op as { description?: string }).description).toContain('No function can be labelled invoke, build, deploy');
    }
  }, 40_000);

  it('gives every operation a unique camelCase operationId, a tag, a summary and its 4xx answers', () => {
    const ops = operations(doc);
    expect(ops.length).toBeGreaterThan(40);
    for (const { path: p, method, op } of ops) {
      const where = `${method.toUpperCase()} ${p}`;
      expect({ where, operationId: op.operationId }).toEqual({ where, operationId: expect.stringMatching(/^[a-z][A-Za-z0-9]+$/) });
      expect({ where, tags: op.tags?.length, summary: !!op.summary }).toEqual({ where, tags: 1, summary: true });
      expect({ where, has4xx: Object.keys(op.responses).some((s) => /^4\d\d$/.test(s)) }).toEqual({ where, has4xx: true });
    }
    const ids = ops.map((o) => o.op.operationId);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toEqual(
      expect.arrayContaining([
        'listFunctions',
        'createFunction',
        'buildFunction',
        'deployFunction',
        'undeployFunction',
        'listBuilds',
        'getBuild',
        'getFunctionStats',
        'listVersions',
        'getVersion',
        'rollbackFunction',
        'getTraffic',
        'setTraffic',
        'setAlias',
        'deleteAlias',
        'getFunction',
        'updateFunction',
        'deleteFunction',
        'invokeFunction',
        'invokeFunctionGet',
        'invokeFunctionHttpPost',
        'invokeFunctionHttpPathGet',
        'queryEvents',
        'createEvent',
        'streamEvents',
        'getEvent',
        'listSecrets',
        'getSecret',
        'putSecret',
        'deleteSecret',
        'createApiKey',
        'listApiKeys',
        'revokeApiKey',
        'listInvocations',
        'getInvocation',
        'cancelInvocation',
        'redriveInvocation',
        'redriveInvocations',
        'replayInvocation',
        'getCallbackKey',
        'openDebugSession',
        'getDebugSession',
        'endDebugSession',
        'getLiveness',
        'getReadiness',
      ]),
    );
  });

  it('answers every error with the one ErrorBody schema, and names the statuses each route can give', () => {
    for (const { path: p, method, op } of operations(doc)) {
      for (const [status, r] of Object.entries(op.responses)) {
        // A HEAD answer has no body; /readyz answers 503 with its checks.
        if (!/^[45]\d\d$/.test(status) || method === 'head' || (p === '/readyz' && status === '503')) continue;
        expect({ at: `${method} ${p} ${status}`, schema: r.content?.['application/json']?.schema }).toEqual({
          at: `${method} ${p} ${status}`,
          schema: { $ref: '#/components/schemas/ErrorBody' },
        });
      }
    }
    const statuses = (p: string, m: string) => Object.keys(doc.paths[p][m].responses);
    expect(statuses('/api/v1/functions', 'post')).toEqual(expect.arrayContaining(['201', '400', '401', '403', '409', '413', '429', '503']));
    expect(statuses('/api/v1/functions/deploy/{id}', 'post')).toEqual(expect.arrayContaining(['200', '202', '404', '409', '502']));
    for (const [p, m] of [
      ['/api/v1/functions/{id}', 'get'],
      ['/api/v1/functions/{id}', 'put'],
      ['/api/v1/functions/{id}', 'delete'],
      ['/api/v1/functions/build/{id}', 'post'],
      ['/api/v1/functions/deploy/{id}', 'delete'],
      ['/api/v1/functions/{id}/builds', 'get'],
      ['/api/v1/functions/{id}/builds/{buildId}', 'get'],
      ['/api/v1/functions/{id}/stats', 'get'],
      ['/api/v1/functions/{id}/debug', 'post'],
      ['/api/v1/functions/{id}/debug/{session}', 'get'],
      ['/api/v1/functions/{id}/debug/{session}', 'delete'],
      ['/api/v3/events/{id}', 'get'],
      ['/api/v1/secrets/{name}', 'get'],
      ['/api/v1/keys/{id}', 'delete'],
    ]) {
      expect({ route: `${m} ${p}`, has404: statuses(p, m).includes('404') }).toEqual({ route: `${m} ${p}`, has404: true });
    }
  });

  it('gives every field a type: nullable fields say which, free-form fields say what they hold', () => {
    for (const { at, schema } of schemas(doc)) {
      const combined = ['allOf', 'oneOf', 'anyOf', '$ref'].some((k) => k in schema);
      // `{}` is "any value" on purpose (the items of an array of any JSON values).
      const any = Object.keys(schema).length === 0;
      if (!combined && !any && at.includes('.')) expect({ at, type: typeof schema.type }).toEqual({ at, type: 'string' });
      if (schema.nullable) expect({ at, type: typeof schema.type }).toEqual({ at, type: 'string' });
      if (schema.type === 'object' && !schema.enum) {
        expect({ at, declares: 'properties' in schema || 'additionalProperties' in schema }).toEqual({ at, declares: true });
      }
    }
    // The fields the first version declared as objects (reflection of `string | null`).
    const f = doc.components.schemas;
    const prop = (model: string, field: string) => (f[model].properties as Record<string, Schema>)[field];
    expect(prop('FunctionView', 'description')).toMatchObject({ type: 'string', nullable: true });
    expect(prop('FunctionView', 'statusReason')).toMatchObject({ type: 'string', nullable: true });
    expect(prop('BuildSummary', 'bundleDigest')).toMatchObject({ type: 'string', nullable: true });
    expect(prop('PlatformEvent', 'processingTimeMs')).toMatchObject({ type: 'number', nullable: true });
    expect(prop('DeploymentView', 'url')).toMatchObject({ type: 'string', nullable: true });
    expect(prop('FunctionView', 'build')).toEqual(
      expect.objectContaining({ oneOf: [{ $ref: '#/components/schemas/BuildSummary' }, { type: 'object', nullable: true, enum: [null] }] }),
    );
    expect(prop('FunctionConfigDto', 'env')).toMatchObject({ type: 'object', additionalProperties: { type: 'string' } });
    expect(prop('PlatformEvent', 'payload')).toHaveProperty('anyOf');
  });

  it('describes every 2xx JSON answer of a Nest route by a model, never an empty object', () => {
    for (const { path: p, method, op } of operations(doc)) {
      if (p.startsWith('/fn/') || p.includes('/invoke/')) continue;
      for (const [status, r] of Object.entries(op.responses)) {
        const json = r.content?.['application/json'];
        if (!/^2/.test(status) || !json) continue;
        // One model, a list of one, or (POST /api/v3/events: an event or a batch's events) one of those.
        const schema = json.schema ?? {};
        for (const one of (schema.oneOf as Schema[] | undefined) ?? [schema]) {
          const ref = (one.$ref ?? (one.items as Schema | undefined)?.$ref) as string | undefined;
          expect({ at: `${method} ${p} ${status}`, ref }).toEqual({
            at: `${method} ${p} ${status}`,
            ref: expect.stringMatching(/^#\/components\/schemas\/\w+$/),
          });
          expect(doc.components.schemas[ref!.split('/').pop()!].properties).toBeDefined();
        }
      }
    }
  });

  it('describes the deploy answer as the public view: label and the public url, no spec, env or secrets', () => {
    const view = doc.components.schemas.DeploymentView;
    expect(Object.keys(view.properties as object).sort()).toEqual([
      'bundleDigest',
      'createdAt',
      'driver',
      'functionId',
      'id',
      'image',
      'label',
      'reason',
      'status',
      'updatedAt',
      'url',
      'version',
    ]);
    expect(view.required).toEqual(expect.arrayContaining(['label', 'url']));
  });

  it('describes every method of the invocation routes: any content from the function, JSON errors, the invocation headers', () => {
    for (const p of ['/api/v1/functions/invoke/{id}', '/fn/{label}', '/fn/{label}/{path}']) {
      expect(Object.keys(doc.paths[p]).sort()).toEqual(['delete', 'get', 'head', 'options', 'patch', 'post', 'put']);
      for (const [method, op] of Object.entries(doc.paths[p])) {
        const ok = op.responses['200'];
        if (method !== 'head') expect(ok.content).toEqual({ '*/*': { schema: {} } });
        expect(Object.keys(ok.headers ?? {})).toEqual(['x-invocation-id', 'x-cold-start', 'x-start-ms', 'x-duration-ms', 'x-function-version']);
        expect(Object.keys(op.responses)).toEqual(
          expect.arrayContaining(['400', '401', '403', '404', '409', '413', '429', '500', '502', '503', '504', 'default']),
        );
      }
    }
    expect(doc.paths['/fn/{label}'].post.security).toEqual([{ bearer: [] }, { 'api-key': [] }, {}]);
  });

  it('describes the asynchronous answer of the invocation routes: 202 with AcceptedInvocation, Location, and the headers that ask for it', () => {
    for (const p of ['/api/v1/functions/invoke/{id}', '/fn/{label}', '/fn/{label}/{path}']) {
      for (const [method, op] of Object.entries(doc.paths[p])) {
        const accepted = op.responses['202'];
        expect(Object.keys(accepted.headers ?? {})).toEqual(['Location', 'Preference-Applied', 'x-invocation-id']);
        if (method !== 'head') expect(accepted.content).toEqual({ 'application/json': { schema: { $ref: '#/components/schemas/AcceptedInvocation' } } });
        expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['422']));
        const headers = ((op as { parameters?: Array<{ in: string; name: string }> }).parameters ?? []).filter((x) => x.in === 'header').map((x) => x.name);
        expect(headers).toEqual(['Prefer', 'X-Invocation-Type', 'X-Callback-Url', 'Idempotency-Key', 'X-Function-Qualifier', 'X-Caller-Id']);
      }
    }
  });

  it('declares the event stream as text/event-stream, and health as open to anyone', () => {
    expect(Object.keys(doc.paths['/api/v3/events/stream'].get.responses['200'].content ?? {})).toEqual(['text/event-stream']);
    expect(doc.paths['/healthz'].get.security).toEqual([]);
    expect(doc.paths['/readyz'].get.security).toEqual([]);
  });

  it('describes the scaling metric: its five values, a numeric target and the custom metric name', () => {
    type Prop = { enum?: string[]; $ref?: string; allOf?: Array<{ $ref?: string }>; type?: string; minimum?: number };
    const schemas = doc.components.schemas as Record<string, { properties?: Record<string, Prop>; enum?: string[] }>;
    const scaling = Object.values(schemas).find((sc) => sc.properties?.customMetric)!;
    expect(scaling).toBeDefined();
    const metric = scaling.properties!.metric;
    const ref = metric.$ref ?? metric.allOf?.[0]?.$ref;
    expect(ref ? schemas[ref.split('/').pop()!].enum : metric.enum).toEqual(['concurrency', 'rps', 'cpu', 'memory', 'custom']);
    expect(scaling.properties!.target).toMatchObject({ type: 'number', minimum: 0.01 });
    expect(scaling.properties!.customMetric).toMatchObject({ type: 'string' });
  });

  describe('real answers', () => {
    let ajv: Ajv;
    beforeAll(() => {
      ajv = new Ajv({ strict: false, allErrors: true });
      addFormats(ajv);
      ajv.addSchema({ components: doc.components }, 'doc');
    });

    /** The answer matches the schema the document declares for this operation and status. */
    function conforms(res: { status: number; body: unknown }, method: string, route: string): void {
      const declared = doc.paths[route][method].responses[String(res.status)];
      expect({ route: `${method} ${route}`, status: res.status, declared: !!declared }).toEqual({
        route: `${method} ${route}`,
        status: res.status,
        declared: true,
      });
      const schema = JSON.parse(JSON.stringify(declared.content!['application/json'].schema).replace(/"#\/components/g, '"doc#/components')) as Schema;
      const validate = ajv.compile(schema);
      const valid = validate(res.body);
      expect({ route: `${method} ${route} ${res.status}`, errors: valid ? [] : validate.errors }).toEqual({
        route: `${method} ${route} ${res.status}`,
        errors: [],
      });
    }

    // Two of its answers wait out RPC_TIMEOUT_MS (no builder, no event store): more than jest's default 5 s on a busy machine.
    it('match the schemas the document declares', async () => {
      const body = {
        label: 'documented',
        runtime: 'node',
        handler: 'module.exports = (d) => d;',
        config: { env: { A: '1' }, labels: { team: 'x' }, triggers: [{ type: 'http', auth: 'none' }] },
      };
      const created = await api().post('/api/v1/functions').send(body).expect(201);
      conforms(created, 'post', '/api/v1/functions');
      conforms(await api().get('/api/v1/functions/documented').expect(200), 'get', '/api/v1/functions/{id}');
      conforms(await api().get('/api/v1/functions').expect(200), 'get', '/api/v1/functions');
      conforms(await api().put('/api/v1/functions/documented').send({ description: 'now described' }).expect(200), 'put', '/api/v1/functions/{id}');
      conforms(await api().post('/api/v1/functions').send(body).expect(409), 'post', '/api/v1/functions');
      conforms(
        await api()
          .post('/api/v1/functions')
          .send({ ...body, label: 'invoke' })
          .expect(400),
        'post',
        '/api/v1/functions',
      );
      conforms(await api().get('/api/v1/functions/nope').expect(404), 'get', '/api/v1/functions/{id}');
      conforms(await request(gateway.url).get('/api/v1/functions').expect(401), 'get', '/api/v1/functions');
      // No builder, deployer or event store runs here: their routes answer 503 with the service's name.
      conforms(await api().get('/api/v1/functions/documented/builds').expect(503), 'get', '/api/v1/functions/{id}/builds');
      conforms(await api().get('/api/v3/events').expect(503), 'get', '/api/v3/events');
      conforms(await api().get('/api/v1/invocations/not-a-uuid').expect(400), 'get', '/api/v1/invocations/{id}');
      conforms(
        await api().post('/api/v1/functions/invoke/documented').set('prefer', 'respond-async').set('idempotency-key', '').send({}).expect(400),
        'post',
        '/api/v1/functions/invoke/{id}',
      );
      conforms(
        await api()
          .put('/api/v1/secrets/db')
          .send({ values: { password: 'p' } })
          .expect(200),
        'put',
        '/api/v1/secrets/{name}',
      );
      conforms(await api().get('/api/v1/secrets').expect(200), 'get', '/api/v1/secrets');
      conforms(await api().delete('/api/v1/secrets/db').expect(200), 'delete', '/api/v1/secrets/{name}');
      const key = await api()
        .post('/api/v1/keys')
        .send({ name: 'runner', scope: 'invoke', functions: ['documented'] })
        .expect(201);
      conforms(key, 'post', '/api/v1/keys');
      conforms(await api().get('/api/v1/keys').expect(200), 'get', '/api/v1/keys');
      conforms(await api().delete(`/api/v1/keys/${key.body.id}`).expect(200), 'delete', '/api/v1/keys/{id}');
      conforms(await request(gateway.url).get('/healthz').expect(200), 'get', '/healthz');
      conforms(await api().delete('/api/v1/functions/documented').expect(200), 'delete', '/api/v1/functions/{id}');
    }, 20_000);
  });
});
