import type { FunctionView, RuntimeView } from '@platform/contracts';
import { api, RunningPlatform, startPlatform } from './support/platform';

/**
 * Runtimes through the public API with the services as processes: what GET /api/v1/runtimes lists, the product
 * doc's python3.9 and nodejs16 deploying with the version they run on said, and the SDK's get_secret in a handler.
 */
describe('runtimes end to end: versions that say what they run on, and the SDK', () => {
  let p: RunningPlatform;
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}` });

  async function waitForStatus(id: string, wanted: string[], timeoutMs = 120_000): Promise<FunctionView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call<FunctionView>('GET', `/api/v1/functions/${id}`);
      if (wanted.includes(r.body?.status)) return r.body;
      if (Date.now() > deadline) throw new Error(`function ${id} still ${r.body?.status} (wanted ${wanted.join('/')})`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async function createBuildDeploy(body: Record<string, unknown>): Promise<FunctionView> {
    const created = await call<FunctionView>('POST', '/api/v1/functions', body);
    expect(created.status).toBe(201);
    const id = created.body.id;
    expect((await call('POST', `/api/v1/functions/build/${id}`)).status).toBe(202);
    expect(await waitForStatus(id, ['BUILT', 'FAILED'])).toMatchObject({ status: 'BUILT' });
    expect([200, 202]).toContain((await call('POST', `/api/v1/functions/deploy/${id}`)).status);
    await waitForStatus(id, ['READY']);
    return created.body;
  }

  beforeAll(async () => {
    p = await startPlatform();
    expect((await call('PUT', '/api/v1/secrets/openai', { values: { value: 'sk-e2e-5d2a' } })).status).toBe(200);
  }, 180_000);

  afterAll(async () => {
    await p?.stop();
  }, 60_000);

  it('lists the runtimes with the versions installed and their defaults', async () => {
    const r = await call<RuntimeView[]>('GET', '/api/v1/runtimes');
    expect(r.status).toBe(200);
    const node = r.body.find((x) => x.name === 'node')!;
    expect(node).toMatchObject({ defaultVersion: process.versions.node, defaultTemplate: 'node' });
    expect(r.body.find((x) => x.name === 'python')?.versions.length).toBeGreaterThan(0);
    expect((await api(p.gatewayUrl, 'GET', '/api/v1/runtimes')).status).toBe(401);
  });

  it("deploys the doc's python3.9 with `from hexabase import get_secret`, naming the exact version it runs on", async () => {
    const created = await createBuildDeploy({
      label: 'ai-helper',
      runtime: 'python3.9',
      handler: 'main.handle',
      files: {
        'main.py':
          'import platform\nfrom hexabase import get_secret, invocation_id\n\n' +
          "def handle(event):\n    return {'key': get_secret('openai')[:6], 'python': platform.python_version(), 'id': invocation_id()}\n",
      },
      config: { secrets: [{ env: 'OPENAI_API_KEY', secret: 'openai' }] },
    });
    const version = created.resolvedRuntime.version!;
    expect(created.resolvedRuntime).toMatchObject({ language: 'python', requested: 'python3.9' });
    if (!version.startsWith('3.9.')) expect(created.warnings).toEqual([expect.stringContaining(`runs on Python ${version}`)]);
    const r = await call<Record<string, string>>('POST', `/api/v1/functions/invoke/${created.id}`, { data: {} });
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ key: 'sk-e2e', python: version, id: r.headers.get('x-invocation-id') });
  });

  it("deploys the doc's nodejs16 on the installed Node.js, with the warning in the answer and the view", async () => {
    const created = await createBuildDeploy({
      label: 'orders',
      runtime: 'nodejs16',
      handler: "const { getSecret } = require('hexabase');\nmodule.exports = () => ({ node: process.versions.node, key: getSecret('openai').length });",
      config: { secrets: [{ env: 'OPENAI_API_KEY', secret: 'openai' }] },
    });
    const warning = `Node.js 16 is not installed here: "nodejs16" runs on Node.js ${process.versions.node}, the nearest newer version`;
    expect(created.warnings).toEqual([warning]);
    expect((await call<FunctionView>('GET', '/api/v1/functions/orders')).body.resolvedRuntime).toEqual({
      language: 'node',
      requested: 'nodejs16',
      version: process.versions.node,
      warning,
    });
    const r = await call('POST', '/api/v1/functions/invoke/orders', { data: {} });
    expect([r.status, r.body]).toEqual([200, { node: process.versions.node, key: 'sk-e2e-5d2a'.length }]);
  });

  it('answers 400 listing the runtimes for one it does not have', async () => {
    const r = await call('POST', '/api/v1/functions', { label: 'cobol-fn', runtime: 'cobol85', handler: 'x' });
    expect(r.status).toBe(400);
    expect(r.body.message).toMatch(/^runtime "cobol85" is not supported; the platform runs node \(.*\); python \(/);
  });
});
