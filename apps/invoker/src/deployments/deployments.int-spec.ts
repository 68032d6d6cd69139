import { ChildProcess, spawn } from 'child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import { newEvent } from '@platform/contracts';
import { runtimesDir } from '@platform/runtimes';
import { freePort, waitFor } from '@platform/testing';
import { runtimeSpec, writeBundle } from '../testing/bundles';
import { deploymentView, InvokerHarness, publicDeploymentView, startInvoker } from '../testing/invoker-harness';

const HANDLER = (greeting: string) => ({ 'handler.js': `module.exports.handle = (d) => '${greeting} ' + (d && d.name);` });

describe('invoker: learning deployments from the deployer', () => {
  let inv: InvokerHarness;
  let warmFromStart: ReturnType<typeof runtimeSpec>;
  let knativeServer: ChildProcess;
  let builder: http.Server;
  let builderUrl: string;
  const served = new Map<string, Buffer>();
  const codeDir = mkdtempSync(path.join(tmpdir(), 'hks-knative-'));

  beforeAll(async () => {
    // The builder's artifact endpoint, for bundles that are not in this machine's artifact store.
    builder = http.createServer((req, res) => {
      const bytes = served.get(req.url ?? '');
      res.writeHead(bytes ? 200 : 404).end(bytes);
    });
    await new Promise<void>((r) => builder.listen(0, '127.0.0.1', r));
    builderUrl = `http://127.0.0.1:${(builder.address() as AddressInfo).port}`;

    inv = await startInvoker({ BUILDER_URL: builderUrl }, async (directory, dataDir) => {
      const digest = await writeBundle(dataDir, 'node', 'handler.handle', HANDLER('hello'));
      warmFromStart = runtimeSpec({
        label: 'warm-from-start',
        family: 'node',
        entrypoint: 'handler.handle',
        bundleDigest: digest,
        config: { scaling: { minInstances: 1 } },
      });
      directory.deployments.set(warmFromStart.deploymentId, deploymentView(warmFromStart));
      directory.functions.set(warmFromStart.spec.functionId, { id: warmFromStart.spec.functionId, label: 'warm-from-start' });
    });
  }, 90_000);

  afterAll(async () => {
    knativeServer?.kill();
    await inv?.close();
    await new Promise((r) => builder?.close(r));
    rmSync(codeDir, { recursive: true, force: true });
  });

  const poolOf = async (label: string) =>
    ((await inv.request('GET', '/deployments')).json.deployments as Array<{ label: string; instances: number; version: number }>).find(
      (d) => d.label === label,
    );

  it('starts the warm instances of the active deployments it finds at start (ListActive)', async () => {
    await waitFor(async () => (await poolOf('warm-from-start'))?.instances === 1, { what: 'the pool of warm-from-start' });
    const res = await inv.request('POST', '/invoke/warm-from-start', JSON.stringify({ name: 'Ann' }), { 'content-type': 'application/json' });
    expect(res.json).toBe('hello Ann');
    expect(res.headers.get('x-cold-start')).toBe('false');
  });

  it('asks the deployer about a function it does not know, and runs it', async () => {
    const digest = await writeBundle(inv.dataDir, 'node', 'handler.handle', HANDLER('hi'));
    const fn = runtimeSpec({ label: 'on-demand', family: 'node', entrypoint: 'handler.handle', bundleDigest: digest });
    inv.directory.deployments.set(fn.deploymentId, deploymentView(fn));
    const res = await inv.request('GET', '/invoke/on-demand?name=Bo');
    expect(res.status).toBe(200);
    expect(res.json).toBe('hi Bo');
    expect(res.headers.get('x-cold-start')).toBe('true');
  });

  it('switches to a new deployment when deployment.ready says so, and drops the function on deployment.deleted', async () => {
    const digest = await writeBundle(inv.dataDir, 'node', 'handler.handle', HANDLER('v2'));
    const v2 = runtimeSpec({
      label: 'warm-from-start',
      family: 'node',
      entrypoint: 'handler.handle',
      bundleDigest: digest,
      functionId: warmFromStart.spec.functionId,
    });
    v2.spec.version = 2;
    inv.directory.deployments.clear();
    inv.directory.deployments.set(v2.deploymentId, deploymentView(v2));
    const view = publicDeploymentView(v2);
    inv.tap.publish(
      newEvent({ name: 'deployment.ready', type: 'FUNCTION_DEPLOYMENT', status: 'SUCCESS', source: 'deployer', functionId: v2.spec.functionId, payload: view }),
    );
    await waitFor(async () => (await poolOf('warm-from-start'))?.version === 2, { what: 'version 2 of warm-from-start' });
    expect((await inv.request('GET', '/invoke/warm-from-start?name=Cy')).json).toBe('v2 Cy');

    inv.directory.deployments.clear();
    inv.tap.publish(
      newEvent({
        name: 'deployment.deleted',
        type: 'FUNCTION_DEPLOYMENT',
        status: 'SUCCESS',
        source: 'deployer',
        functionId: v2.spec.functionId,
        payload: view,
      }),
    );
    await waitFor(async () => (await poolOf('warm-from-start')) === undefined, { what: 'warm-from-start to be dropped' });
    expect((await inv.request('GET', '/invoke/warm-from-start')).status).toBe(409);
  });

  it('fetches a bundle from the builder when this machine does not have it, checking its sha256', async () => {
    const scratch = mkdtempSync(path.join(tmpdir(), 'hks-remote-'));
    const digest = await writeBundle(scratch, 'node', 'handler.handle', HANDLER('remote'));
    const hex = digest.slice('sha256:'.length);
    served.set(`/artifacts/sha256/${hex}`, readFileSync(path.join(scratch, 'artifacts', 'sha256', `${hex}.tar`)));
    rmSync(scratch, { recursive: true, force: true });
    const fn = runtimeSpec({ label: 'remote', family: 'node', entrypoint: 'handler.handle', bundleDigest: digest });
    const put = await inv.request('PUT', `/deployments/${fn.spec.functionId}`, JSON.stringify({ deploymentId: fn.deploymentId, spec: fn.spec, env: {} }), {
      'content-type': 'application/json',
    });
    expect(put.status).toBe(200);
    expect((await inv.request('GET', '/invoke/remote?name=Di')).json).toBe('remote Di');

    const forged = `sha256:${'0'.repeat(64)}`;
    served.set(`/artifacts/sha256/${'0'.repeat(64)}`, Buffer.from('not the bundle'));
    const bad = runtimeSpec({ label: 'forged', family: 'node', entrypoint: 'handler.handle', bundleDigest: forged });
    const refused = await inv.request(
      'PUT',
      `/deployments/${bad.spec.functionId}`,
      JSON.stringify({ deploymentId: bad.deploymentId, spec: bad.spec, env: {} }),
      { 'content-type': 'application/json' },
    );
    expect(refused.status).toBe(409);
    expect(refused.json.message).toMatch(/cannot be used: it is not a readable tar/);
  });

  it('removes the unpacked bundle of a digest once no deployment uses it, after its workers are gone', async () => {
    const unpacked = (digest: string) => existsSync(path.join(inv.dataDir, 'invoker', 'bundles', digest.slice('sha256:'.length)));
    const put = async (fn: ReturnType<typeof runtimeSpec>) =>
      (
        await inv.request('PUT', `/deployments/${fn.spec.functionId}`, JSON.stringify({ deploymentId: fn.deploymentId, spec: fn.spec, env: {} }), {
          'content-type': 'application/json',
        })
      ).status;
    const shared = await writeBundle(inv.dataDir, 'node', 'handler.handle', HANDLER('shared'));
    const first = runtimeSpec({
      label: 'first-user',
      family: 'node',
      entrypoint: 'handler.handle',
      bundleDigest: shared,
      config: { scaling: { minInstances: 1 } },
    });
    const second = runtimeSpec({
      label: 'second-user',
      family: 'node',
      entrypoint: 'handler.handle',
      bundleDigest: shared,
      config: { scaling: { minInstances: 1 } },
    });
    expect([await put(first), await put(second)]).toEqual([200, 200]);
    expect(unpacked(shared)).toBe(true);

    // One of its two deployments goes: the other still runs from it.
    expect((await inv.request('DELETE', `/deployments/${first.spec.functionId}`)).status).toBe(200);
    await waitFor(async () => (await poolOf('first-user')) === undefined, { what: 'first-user to be dropped' });
    expect((await inv.request('GET', '/invoke/second-user?name=Fa')).json).toBe('shared Fa');
    expect(unpacked(shared)).toBe(true);

    // The other is replaced by a build with other code: the old bundle goes once its worker has stopped.
    const next = await writeBundle(inv.dataDir, 'node', 'handler.handle', HANDLER('next'));
    const replaced = runtimeSpec({
      label: 'second-user',
      family: 'node',
      entrypoint: 'handler.handle',
      bundleDigest: next,
      functionId: second.spec.functionId,
    });
    expect(await put(replaced)).toBe(200);
    await waitFor(() => !unpacked(shared), { what: `bundle ${shared} to be removed` });
    expect((await inv.request('GET', '/invoke/second-user?name=Go')).json).toBe('next Go');

    expect((await inv.request('DELETE', `/deployments/${second.spec.functionId}`)).status).toBe(200);
    // Renamed aside first (unpacked() is false from then on), then deleted: nothing of it may stay.
    const leftOf = (digest: string) => readdirSync(path.join(inv.dataDir, 'invoker', 'bundles')).filter((n) => n.startsWith(digest.slice('sha256:'.length)));
    await waitFor(() => !unpacked(next) && leftOf(next).length === 0, { what: `bundle ${next} to be removed, with its index and its folder put aside` });
    expect(leftOf(next)).toEqual([]);
  });

  it('proxies a Knative deployment to its URL (an OCI image running the shim in HTTP mode), data style and HTTP style', async () => {
    writeFileSync(
      path.join(codeDir, 'handler.js'),
      "module.exports.handle = (e) => (e && e.method ? { style: 'http', path: e.path, name: e.name } : { style: 'data', data: e });",
    );
    const port = await freePort();
    knativeServer = spawn(process.execPath, [path.join(runtimesDir(), 'node', 'shim', 'index.js'), '--http'], {
      env: { PATH: process.env.PATH, PORT: String(port), HOST: '127.0.0.1', HKS_CODE_DIR: codeDir, HKS_ENTRYPOINT: 'handler.handle' },
      stdio: 'ignore',
    });
    await waitFor(async () => (await fetch(`http://127.0.0.1:${port}/`).catch(() => undefined))?.ok, { what: 'the function image to listen' });
    const fn = runtimeSpec({ label: 'on-knative', family: 'node', entrypoint: 'handler.handle', bundleDigest: '' });
    inv.directory.deployments.set(fn.deploymentId, deploymentView(fn, { driver: 'knative', endpoint: `http://127.0.0.1:${port}` }));

    const data = await inv.request('POST', '/invoke/on-knative', JSON.stringify({ data: { n: 1 } }), { 'content-type': 'application/json' });
    expect(data.status).toBe(200);
    expect(data.json).toEqual({ style: 'data', data: { n: 1 } });
    const httpStyle = await inv.request('POST', '/http/on-knative/orders/7', JSON.stringify({ name: 'Eli' }), { 'content-type': 'application/json' });
    expect(httpStyle.json).toEqual({ style: 'http', path: '/orders/7', name: 'Eli' });
    expect((await inv.tap.invocation(httpStyle.headers.get('x-invocation-id')!)).result).toMatchObject({ status: 'SUCCESS', metadata: { trigger: 'http' } });
  });
});

describe('invoker: shutting down', () => {
  /** This process's invoker cgroups: the parents (one per invoker) and the processes in their workers. */
  const ours = () => {
    const memoryPath = /^\d+:memory:(.*)$/m.exec(readFileSync('/proc/self/cgroup', 'utf8'))?.[1] ?? '/';
    const parents = ['/sys/fs/cgroup/pids', path.join('/sys/fs/cgroup/memory', memoryPath)].flatMap((base) =>
      existsSync(base)
        ? readdirSync(base)
            .filter((n) => n.startsWith(`hks-invoker-${process.pid}-`))
            .map((n) => path.join(base, n))
        : [],
    );
    const pids = parents
      .filter((p) => p.startsWith('/sys/fs/cgroup/pids'))
      .flatMap((p) =>
        readdirSync(p)
          .filter((n) => n.startsWith('w-'))
          .map((n) => path.join(p, n, 'cgroup.procs')),
      )
      .flatMap((f) => readFileSync(f, 'utf8').split('\n').filter(Boolean).map(Number));
    return { parents, pids };
  };

  it('kills every worker and removes its cgroups', async () => {
    const inv = await startInvoker();
    await inv.deploy({
      label: 'to-stop',
      family: 'python',
      entrypoint: 'handler.main',
      files: { 'handler.py': 'def main(r):\n    return 1\n' },
      config: { scaling: { minInstances: 2 } },
    });
    const before = ours();
    expect(before.parents.length).toBeGreaterThan(0);
    expect(before.pids.length).toBeGreaterThan(0);
    await inv.close();
    expect(ours().parents).toEqual([]);
    // Gone, or at most a zombie its parent has not collected yet: nothing runs.
    const running = before.pids.filter((pid) => existsSync(`/proc/${pid}`) && !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8')));
    expect(running).toEqual([]);
  }, 60_000);
});
