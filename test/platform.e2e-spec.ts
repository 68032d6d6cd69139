import type { BuildView, EventPage, FunctionView, PlatformEvent } from '@platform/contracts';
import { api, RunningPlatform, startPlatform } from './support/platform';

/**
 * The whole vertical slice, through the public API only, with the six services running as separate processes:
 * create -> build -> deploy -> invoke (three handler styles) -> events, and the errors a user can run into.
 */
describe('the platform end to end', () => {
  let p: RunningPlatform;
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers?: Record<string, string>) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}`, ...headers });

  async function waitForStatus(id: string, wanted: string[], timeoutMs = 120_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call<FunctionView>('GET', `/api/v1/functions/${id}`);
      if (wanted.includes(r.body?.status)) return r.body;
      if (Date.now() > deadline) throw new Error(`function ${id} still ${r.body?.status} (wanted ${wanted.join('/')})`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async function eventsOf(functionId: string, query = '', atLeast = 1, timeoutMs = 15_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call<EventPage>('GET', `/api/v3/events?functionId=${functionId}${query}`);
      if (r.status === 200 && r.body.items.length >= atLeast) return r.body;
      if (Date.now() > deadline) throw new Error(`only ${r.body?.items?.length} events for ${functionId}${query}: ${r.text}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async function createBuildDeploy(body: Record<string, unknown>) {
    const created = await call<FunctionView>('POST', '/api/v1/functions', body);
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await call('POST', `/api/v1/functions/build/${id}`)).status).toBe(202);
    const built = await waitForStatus(id, ['BUILT', 'FAILED']);
    expect(built).toMatchObject({ status: 'BUILT' });
    const deployed = await call('POST', `/api/v1/functions/deploy/${id}`);
    expect([200, 202]).toContain(deployed.status);
    await waitForStatus(id, ['READY']);
    return id;
  }

  beforeAll(async () => {
    // No call here is meant to reach the PENDING threshold (triggers.e2e streams a slow one): one event each.
    p = await startPlatform({ INVOKER_PENDING_EVENT_AFTER_MS: '60000' });
  }, 180_000);

  afterAll(async () => {
    await p?.stop();
  }, 60_000);

  it('serves the interactive API documentation', async () => {
    const ui = await call('GET', '/api/v1/functions/swagger-ui');
    expect(ui.status).toBe(200);
    expect(ui.text).toContain('swagger');
  });

  it('creates, builds, deploys and invokes the TypeScript template, and records the invocation as events', async () => {
    const created = await call<FunctionView>('POST', '/api/v1/functions', {
      label: 'my-function',
      description: 'A sample function',
      template: 'typescript',
      runtime: 'node',
      handler: 'export default function(data) { return data; }',
    });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ label: 'my-function', template: 'typescript', runtime: 'node', status: 'CREATED' });
    const id = created.body.id;

    const listed = await call('GET', '/api/v1/functions');
    expect(listed.status).toBe(200);
    expect(JSON.stringify(listed.body)).toContain(id);

    expect((await call('POST', `/api/v1/functions/build/${id}`)).status).toBe(202);
    const built = await waitForStatus(id, ['BUILT', 'FAILED']);
    expect(built.status).toBe('BUILT');
    expect(built.build?.bundleDigest).toMatch(/^sha256:[0-9a-f]{64}$/);

    const deployed = await call('POST', `/api/v1/functions/deploy/${id}`);
    expect([200, 202]).toContain(deployed.status);
    await waitForStatus(id, ['READY']);

    const posted = await call('POST', `/api/v1/functions/invoke/${id}`, { data: { name: 'Alice', n: 1 } });
    expect(posted.status).toBe(200);
    expect(posted.body).toEqual({ name: 'Alice', n: 1 });
    const invocationId = posted.headers.get('x-invocation-id');
    expect(invocationId).toBeTruthy();

    const got = await call('GET', `/api/v1/functions/invoke/${id}?a=1`);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({ a: '1' });

    // One event per invocation: its result, with the request and the response.
    const page = await eventsOf(id, `&invocationId=${invocationId}`, 1);
    expect(page.items.map((e) => e.status)).toEqual(['SUCCESS']);
    const result = page.items[0];
    expect(result).toMatchObject({ type: 'FUNCTION_INVOCATION', functionId: id, invocationId, response: { name: 'Alice', n: 1 } });
    expect(typeof result.processingTimeMs).toBe('number');
    expect(typeof result.timestamp).toBe('string');
    expect(result.source).toBeTruthy();
    expect(result.payload).toEqual({ name: 'Alice', n: 1 });

    const one = await call('GET', `/api/v3/events/${result.id}`);
    expect(one.status).toBe(200);
    expect(one.body.id).toBe(result.id);
  });

  it('runs a Python handler that returns an HTTP response and reads request fields', async () => {
    const id = await createBuildDeploy({
      label: 'py-hello',
      runtime: 'python3',
      template: 'python',
      handler: "def handle(request):\n    return {'statusCode': 200, 'headers': {'content-type': 'text/plain'}, 'body': 'Hello ' + request.get('name')}\n",
    });
    const r = await call('POST', `/api/v1/functions/invoke/${id}`, { data: { name: 'Alice' } });
    expect(r.status).toBe(200);
    expect(r.text).toBe('Hello Alice');
    expect(r.headers.get('content-type')).toContain('text/plain');
  });

  it('runs a Node.js module.exports.handle async handler, and by label', async () => {
    const id = await createBuildDeploy({
      label: 'node-greeter',
      runtime: 'nodejs20',
      template: 'node',
      handler: 'module.exports.handle = async (event) => ({ greeting: `hi ${event.who}`, at: typeof Date.now() });',
    });
    const r = await call('POST', `/api/v1/functions/invoke/node-greeter`, { data: { who: 'Bob' } });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ greeting: 'hi Bob', at: 'number' });
    expect(id).toBeTruthy();
  });

  it('turns a handler exception into a 500 with its message and a FAILURE event', async () => {
    const id = await createBuildDeploy({
      label: 'thrower',
      runtime: 'node',
      handler: "module.exports.handle = () => { throw new Error('database is on fire'); };",
    });
    const r = await call('POST', `/api/v1/functions/invoke/${id}`, { data: {} });
    expect(r.status).toBe(500);
    expect(r.body.message).toContain('database is on fire');
    const failures = await eventsOf(id, '&status=FAILURE');
    expect(failures.items[0].error).toContain('database is on fire');
    // The pool survives: the next call is answered the same way, not by a crashed worker.
    expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: {} })).status).toBe(500);
  });

  it('times a runaway function out with a 504 and records why', async () => {
    const id = await createBuildDeploy({
      label: 'spinner',
      runtime: 'python',
      handler: 'def handle(data):\n    while True:\n        pass\n',
      config: { resources: { timeoutMs: 500 } },
    });
    const r = await call('POST', `/api/v1/functions/invoke/${id}`, { data: {} });
    expect(r.status).toBe(504);
    expect(r.body.message).toMatch(/time/i);
    const failures = await eventsOf(id, '&status=FAILURE');
    expect(failures.items[0].error).toMatch(/time/i);
  });

  it('fails a build that does not compile, keeping the log and a clear reason', async () => {
    const created = await call<FunctionView>('POST', '/api/v1/functions', {
      label: 'broken-ts',
      template: 'typescript',
      runtime: 'node',
      handler: "const n: number = 'not a number';\nexport default function() { return n; }",
    });
    const id = created.body.id;
    await call('POST', `/api/v1/functions/build/${id}`);
    const failed = await waitForStatus(id, ['FAILED', 'BUILT']);
    expect(failed.status).toBe('FAILED');
    expect(failed.statusReason).toContain('TS2322');
    const builds = await call<BuildView[]>('GET', `/api/v1/functions/${id}/builds`);
    expect(builds.status).toBe(200);
    const log = await call<BuildView>('GET', `/api/v1/functions/${id}/builds/${builds.body[0].id}`);
    expect(log.body.log).toContain("Type 'string' is not assignable to type 'number'");
    const deploy = await call('POST', `/api/v1/functions/deploy/${id}`);
    expect(deploy.status).toBe(409);
  });

  it('answers bad input with a clear 4xx', async () => {
    const missing = await call('POST', '/api/v1/functions', { runtime: 'node', handler: 'x' });
    expect(missing.status).toBe(400);
    expect(missing.body.message).toContain('label');

    const malformed = await call('POST', '/api/v1/functions', '{"label": "oops",');
    expect(malformed.status).toBe(400);
    expect(malformed.body.message).toMatch(/JSON/);

    const badRuntime = await call('POST', '/api/v1/functions', { label: 'cobol-fn', runtime: 'cobol', handler: 'x' });
    expect(badRuntime.status).toBe(400);
    expect(badRuntime.body.message).toContain('runtime');

    // What Knative's webhook would refuse is refused here, on every target, saying why.
    const fn = (config: Record<string, unknown>) => call('POST', '/api/v1/functions', { label: 'kn-refused', runtime: 'node', handler: 'x', config });
    const port = await fn({ env: { PORT: '9000' } });
    expect(port.status).toBe(400);
    expect(port.body.message).toContain('config.env.PORT is reserved: Knative sets PORT, K_SERVICE, K_CONFIGURATION, K_REVISION');
    const long = await fn({ resources: { timeoutMs: 900_000 } });
    expect(long.status).toBe(400);
    expect(long.body.message).toContain('resources.timeoutMs 900000 is more than 600000');
    const warm = await fn({ scaling: { minInstances: 20 } });
    expect(warm.status).toBe(400);
    expect(warm.body.message).toContain('config.scaling.minInstances (20) is more than maxInstances (10, the default)');
    const metric = await fn({ scaling: { metric: 'latency' } });
    expect(metric.status).toBe(400);
    expect(JSON.stringify(metric.body)).toContain('scaling.metric must be one of concurrency, rps, cpu, memory, custom');
    const custom = await fn({ scaling: { metric: 'custom', target: 5 } });
    expect(custom.status).toBe(400);
    expect(custom.body.message).toContain('config.scaling.customMetric is required when scaling.metric is "custom"');
    const cpu = await fn({ scaling: { metric: 'cpu', target: 150 } });
    expect(cpu.status).toBe(400);
    expect(cpu.body.message).toContain('config.scaling.target 150 is more than 100');
    expect((await call('GET', '/api/v1/functions/kn-refused')).status).toBe(404);

    const dup = await call('POST', '/api/v1/functions', { label: 'my-function', runtime: 'node', handler: 'module.exports.handle = () => 1' });
    expect(dup.status).toBe(409);
    expect(dup.body.message).toContain('my-function');

    const unknown = '00000000-0000-4000-8000-000000000000';
    expect((await call('GET', `/api/v1/functions/${unknown}`)).status).toBe(404);
    expect((await call('POST', `/api/v1/functions/build/${unknown}`)).status).toBe(404);
    expect((await call('POST', `/api/v1/functions/deploy/${unknown}`)).status).toBe(404);
    expect((await call('POST', `/api/v1/functions/invoke/${unknown}`, { data: 1 })).status).toBe(404);
    expect((await call('GET', `/api/v3/events/${unknown}`)).status).toBe(404);

    const notDeployed = await call<FunctionView>('POST', '/api/v1/functions', {
      label: 'not-deployed',
      runtime: 'node',
      handler: 'module.exports.handle = () => 1',
    });
    const inv = await call('POST', `/api/v1/functions/invoke/${notDeployed.body.id}`, { data: 1 });
    expect(inv.status).toBe(409);
    expect(inv.body.message).toMatch(/deploy/i);

    expect((await call('GET', '/api/v3/events?status=MAYBE')).status).toBe(400);
    // Any type of one's own is accepted; a type that is not one, or one of the platform's own, is not.
    expect((await call('POST', '/api/v3/events', { type: 'not a type' })).status).toBe(400);
    const platformType = await call('POST', '/api/v3/events', { type: 'FUNCTION_CREATED' });
    expect(platformType.status).toBe(400);
    expect(platformType.body.message).toMatch(/^type FUNCTION_CREATED is one of the platform's own event types/);
    expect((await call('GET', '/api/v3/events?type=no%20such%20type')).status).toBe(400);
  });

  it('stores events posted through the API and filters them by type, status, time and page', async () => {
    const before = new Date(Date.now() - 1000).toISOString();
    const posted = await call<PlatformEvent>('POST', '/api/v3/events', { type: 'ORDER_PLACED', source: 'shop', payload: { orderId: 42 } });
    expect(posted.status).toBe(201);
    expect(posted.body).toMatchObject({ type: 'ORDER_PLACED', source: 'shop', payload: { orderId: 42 }, status: 'SUCCESS' });
    // Answered once on the bus; the event store stores it within the ingest lag, so a reader polls.
    const ordersPlaced = async () => (await call<EventPage>('GET', `/api/v3/events?type=ORDER_PLACED&from=${before}`)).body.items.map((e) => e.id);
    const deadline = Date.now() + 15_000;
    let ids = await ordersPlaced();
    while (!ids.includes(posted.body.id) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      ids = await ordersPlaced();
    }
    expect(ids).toContain(posted.body.id);
    const paged = await call<EventPage>('GET', '/api/v3/events?type=FUNCTION_INVOCATION&limit=2&page=1');
    expect(paged.body.items.length).toBeLessThanOrEqual(2);
    expect(paged.body.total).toBeGreaterThanOrEqual(paged.body.items.length);
    const future = await call('GET', `/api/v3/events?from=${new Date(Date.now() + 3600_000).toISOString()}`);
    expect(future.body.items).toEqual([]);
  });

  it('updates a function into a new version that runs after a rebuild, and deletes it', async () => {
    const id = await createBuildDeploy({ label: 'versioned', runtime: 'node', handler: 'module.exports.handle = () => "v1"' });
    expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: null })).body).toBe('v1');
    const updated = await call('PUT', `/api/v1/functions/${id}`, { handler: 'module.exports.handle = () => "v2"' });
    expect(updated.status).toBe(200);
    expect(updated.body.version).toBe(2);
    await call('POST', `/api/v1/functions/build/${id}`);
    await waitForStatus(id, ['BUILT']);
    await call('POST', `/api/v1/functions/deploy/${id}`);
    await waitForStatus(id, ['READY']);
    expect((await call('POST', `/api/v1/functions/invoke/${id}`, { data: null })).body).toBe('v2');

    expect((await call('DELETE', `/api/v1/functions/${id}`)).status).toBeLessThan(300);
    expect((await call('GET', `/api/v1/functions/${id}`)).status).toBe(404);
    const deadline = Date.now() + 10_000;
    let status = 0;
    while (Date.now() < deadline) {
      status = (await call('POST', `/api/v1/functions/invoke/${id}`, { data: null })).status;
      if (status === 404) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(status).toBe(404);
  });
});
