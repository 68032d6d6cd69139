import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tar from 'tar-stream';
import type { BuildView, EventPage, FunctionView } from '@platform/contracts';
import { buildStaticGoProgram, freePort, pushTestImage, startOciRegistry, TEST_HTTP_SERVER_GO, TestOciRegistry } from '@platform/testing';
import { api, RunningPlatform, startPlatform } from './support/platform';

jest.setTimeout(180_000);

/** A layer holding the program at /bin/server and an empty /srv, as an image build would write it. */
function serverLayer(program: Buffer): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<Buffer>((resolve) => pack.on('end', () => resolve(Buffer.concat(chunks))));
  pack.entry({ name: 'bin/', type: 'directory', mode: 0o755 }, '');
  pack.entry({ name: 'bin/server', type: 'file', mode: 0o755, size: program.length }, program);
  pack.entry({ name: 'srv/', type: 'directory', mode: 0o755 }, '');
  pack.finalize();
  return done;
}

/**
 * A custom-runtime function (a static Go program as `bootstrap`) and an OCI-image function (the same program in an
 * image pushed to a real registry) through the public API: create, build (for the image: the tag pinned to its
 * digest), deploy (the invoker pulls and unpacks the image), invoke in both styles, logs and events.
 */
describe('custom runtime and OCI images end to end', () => {
  let p: RunningPlatform;
  let registry: TestOciRegistry;
  let work: string;
  let program: Buffer;
  let image: { reference: string; digest: string };
  const call = <T = Record<string, unknown>>(method: string, url: string, body?: unknown, headers?: Record<string, string>) =>
    api<T>(p.gatewayUrl, method, url, body, { authorization: `Bearer ${p.adminKey}`, ...headers });

  async function waitForStatus(id: string, wanted: string[], timeoutMs = 120_000): Promise<FunctionView> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await call<FunctionView>('GET', `/api/v1/functions/${id}`);
      if (wanted.includes(r.body?.status)) return r.body;
      if (Date.now() > deadline) throw new Error(`function ${id} still ${r.body?.status} (wanted ${wanted.join('/')})`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async function resultOf(functionId: string, invocationId: string) {
    const deadline = Date.now() + 15_000;
    for (;;) {
      const r = await call<EventPage>('GET', `/api/v3/events?functionId=${functionId}&invocationId=${invocationId}`);
      const done = r.body?.items?.find((e) => e.status !== 'PENDING');
      if (done) return done;
      if (Date.now() > deadline) throw new Error(`no result event for ${invocationId}: ${r.text}`);
      await new Promise((res) => setTimeout(res, 200));
    }
  }

  async function buildAndDeploy(id: string): Promise<{ built: FunctionView; build: BuildView }> {
    expect((await call('POST', `/api/v1/functions/build/${id}`)).status).toBe(202);
    const built = await waitForStatus(id, ['BUILT', 'FAILED']);
    const builds = await call<BuildView[]>('GET', `/api/v1/functions/${id}/builds`);
    const build = (await call<BuildView>('GET', `/api/v1/functions/${id}/builds/${builds.body[0].id}`)).body;
    expect({ status: built.status, reason: built.statusReason, log: built.status === 'BUILT' ? '' : build.log }).toMatchObject({ status: 'BUILT' });
    const deployed = await call('POST', `/api/v1/functions/deploy/${id}`);
    expect({ status: deployed.status, body: deployed.body }).toMatchObject({ status: 200 });
    await waitForStatus(id, ['READY']);
    return { built, build };
  }

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'hks-e2e-custom-'));
    await buildStaticGoProgram(TEST_HTTP_SERVER_GO, path.join(work, 'server'));
    program = readFileSync(path.join(work, 'server'));
    registry = await startOciRegistry();
    image = await pushTestImage(registry, 'users/go-server', 'v1', [await serverLayer(program)], {
      Entrypoint: ['/bin/server'],
      Cmd: ['--from-cmd'],
      Env: ['FROM_IMAGE=yes'],
      WorkingDir: '/srv',
    });
    p = await startPlatform({ INVOKER_PENDING_EVENT_AFTER_MS: '60000' });
  }, 240_000);

  afterAll(async () => {
    try {
      await p?.stop();
    } finally {
      await registry?.stop();
      rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('runs a custom executable (runtime provided): create, build, deploy, invoke both styles, logs and events', async () => {
    const created = await call<FunctionView>('POST', '/api/v1/functions', {
      label: 'go-custom',
      runtime: 'provided',
      handler: 'bootstrap',
      files: { bootstrap: `base64:${program.toString('base64')}` },
      config: { env: { GREETING: 'from config' } },
    });
    expect({ status: created.status, body: created.body }).toMatchObject({ status: 201, body: { runtime: 'provided' } });
    const id = created.body.id;
    const { build } = await buildAndDeploy(id);
    expect(build.bundleDigest).toMatch(/^sha256:/);

    const httpStyle = await call('POST', '/fn/go-custom/orders/7?x=1', { item: 'tea' });
    expect(httpStyle.status).toBe(200);
    expect(httpStyle.body).toMatchObject({ method: 'POST', path: '/orders/7', query: 'x=1', body: '{"item":"tea"}', greeting: 'from config', cwd: '/code' });
    const teapot = await call('GET', '/fn/go-custom/x?status=418');
    expect(teapot.status).toBe(418);

    const dataStyle = await call('POST', `/api/v1/functions/invoke/${id}`, { data: { name: 'Alice' } });
    expect(dataStyle.status).toBe(200);
    expect(dataStyle.body).toMatchObject({ method: 'POST', path: '/', body: '{"name":"Alice"}', style: 'data' });
    const invocationId = dataStyle.headers.get('x-invocation-id')!;
    const event = await resultOf(id, invocationId);
    expect(event).toMatchObject({ type: 'FUNCTION_INVOCATION', status: 'SUCCESS', invocationId });
    expect(String((event.metadata as Record<string, unknown>).logs)).toContain('request POST /');
    expect(String((event.metadata as Record<string, unknown>).logs)).toContain(`stderr line for ${invocationId}`);
  });

  it('runs a user OCI image: the build pins the tag to its digest, the invoker runs it from its layers', async () => {
    const created = await call<FunctionView>('POST', '/api/v1/functions', { label: 'go-image', image: image.reference });
    expect({ status: created.status, body: created.body }).toMatchObject({ status: 201, body: { runtime: 'image' } });
    const id = created.body.id;
    const { built, build } = await buildAndDeploy(id);
    const pinned = `${registry.host}/users/go-server@${image.digest}`;
    expect(build.image).toBe(pinned);
    expect(build.log).toContain(`pinned to ${pinned}`);
    expect(built.build?.image).toBe(pinned);

    const res = await call('GET', '/fn/go-image/hello?q=1');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ path: '/hello', query: 'q=1', args: ['--from-cmd'], cwd: '/srv', fromImage: 'yes' });
    const data = await call('POST', `/api/v1/functions/invoke/${id}`, { data: [1, 2] });
    expect(data.body).toMatchObject({ body: '[1,2]', style: 'data' });
    const event = await resultOf(id, data.headers.get('x-invocation-id')!);
    expect(event).toMatchObject({ status: 'SUCCESS' });
    expect(String((event.metadata as Record<string, unknown>).logs)).toContain('request POST /');
    const net = await call('GET', '/fn/go-image/net');
    expect(net.body).toEqual({ reached: false });

    // Undeployed, nothing runs the image any more: its unpacked tree goes once the last worker has stopped.
    const tree = path.join(p.dataDir, 'invoker', 'images', 'rootfs', image.digest.slice('sha256:'.length));
    expect(existsSync(tree)).toBe(true);
    expect((await call('DELETE', `/api/v1/functions/deploy/${id}`)).status).toBe(200);
    const deadline = Date.now() + 30_000;
    while (existsSync(tree) && Date.now() < deadline) await new Promise((res) => setTimeout(res, 200));
    expect(existsSync(tree)).toBe(false);
  });

  it('fails the build of an image that does not exist, or on a registry that cannot be reached, saying which', async () => {
    const missing = await call<FunctionView>('POST', '/api/v1/functions', { label: 'no-image', image: `${registry.host}/users/nothing:v1` });
    expect(missing.status).toBe(201);
    await call('POST', `/api/v1/functions/build/${missing.body.id}`);
    const failed = await waitForStatus(missing.body.id, ['FAILED', 'BUILT']);
    expect(failed.statusReason).toContain(`image ${registry.host}/users/nothing:v1: does not exist`);

    const port = await freePort();
    const away = await call<FunctionView>('POST', '/api/v1/functions', { label: 'no-registry', image: `127.0.0.1:${port}/users/go-server:v1` });
    await call('POST', `/api/v1/functions/build/${away.body.id}`);
    const down = await waitForStatus(away.body.id, ['FAILED', 'BUILT']);
    expect(down.statusReason).toContain(`registry 127.0.0.1:${port} is unreachable`);
  });

  it('refuses an image reference it cannot use, and an image with code, with a 400', async () => {
    const bad = await call('POST', '/api/v1/functions', { label: 'bad-ref', image: 'Not A Reference' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toContain('image');
    const both = await call('POST', '/api/v1/functions', { label: 'both', image: image.reference, handler: 'module.exports.handle = () => 1' });
    expect(both.status).toBe(400);
    expect(both.body.message).toContain('image');
  });
});
