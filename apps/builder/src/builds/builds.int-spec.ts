import { createHash, randomUUID } from 'crypto';
import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import IORedis from 'ioredis';
import { redisConnectionOptions } from '@platform/config';
import { BuildPatterns, BuildView, bullPrefix, INTERNAL_TOKEN_HEADER } from '@platform/contracts';
import { readTar, TarEntry } from '@platform/runtimes';
import { httpRoutes, samplePath, waitFor } from '@platform/testing';
import { BuilderHarness, startBuilder } from '../testing/builder-harness';
import { makeTestWheel } from '../testing/wheelhouse';

jest.setTimeout(240_000);

describe('builder: real builds through BullMQ, Postgres and RabbitMQ', () => {
  let b: BuilderHarness;
  let wheelhouse: string;

  beforeAll(async () => {
    wheelhouse = mkdtempSync(path.join(tmpdir(), 'hks-wheelhouse-'));
    makeTestWheel(wheelhouse, 'hks-tiny', '1.0.0', { 'hks_tiny/__init__.py': 'VALUE = 42\n' });
    b = await startBuilder({ HKS_PIP_WHEELHOUSE: wheelhouse });
  });

  afterAll(async () => {
    try {
      await b?.close();
    } finally {
      rmSync(wheelhouse, { recursive: true, force: true });
    }
  });

  async function bundleOf(view: BuildView): Promise<Map<string, TarEntry>> {
    const hex = (view.bundleDigest as string).slice('sha256:'.length);
    const stored = readFileSync(path.join(b.dataDir, 'artifacts', 'sha256', `${hex}.tar`));
    expect(`sha256:${createHash('sha256').update(stored).digest('hex')}`).toBe(view.bundleDigest);
    return new Map((await readTar(stored)).map((e) => [e.path, e]));
  }

  async function eventNames(buildId: string, last: string): Promise<string[]> {
    await waitFor(() => b.eventsOf(buildId).some((e) => e.name === last), { what: `${last} of ${buildId}` });
    return b.eventsOf(buildId).map((e) => e.name);
  }

  it('builds a node function with an npm dependency into a stored, downloadable bundle and announces it', async () => {
    const view = await b.build({
      label: 'uses-is-number',
      files: {
        'handler.js': "const isNumber = require('is-number');\nmodule.exports.handle = (d) => ({ ok: isNumber(d.n) });\n",
        'package.json': JSON.stringify({ name: 'uses-is-number', version: '1.0.0', dependencies: { 'is-number': '^7.0.0' } }),
      },
    });
    expect(view).toMatchObject({ status: 'SUCCEEDED', cached: false, error: null, image: null });
    expect(view.bundleDigest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(view.log).toContain('npm install --omit=dev --ignore-scripts --no-audit --no-fund');
    expect(view.log).toContain('added 1 package');

    const files = await bundleOf(view);
    expect(files.get('node_modules/is-number/package.json')).toBeDefined();
    expect(files.get('handler.js')?.data?.toString()).toContain("require('is-number')");
    expect(JSON.parse(files.get('.hks/manifest.json')?.data?.toString() as string)).toEqual({
      family: 'node',
      runtime: 'node',
      template: 'node',
      entrypoint: 'handler.*',
    });

    const res = await fetch(`${b.url}/artifacts/sha256/${(view.bundleDigest as string).slice(7)}`, { headers: b.credential });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/x-tar');
    const body = Buffer.from(await res.arrayBuffer());
    expect(`sha256:${createHash('sha256').update(body).digest('hex')}`).toBe(view.bundleDigest);

    expect(await eventNames(view.id, 'build.succeeded')).toEqual(['build.started', 'build.succeeded']);
    const done = b.eventsOf(view.id)[1];
    expect(done).toMatchObject({ type: 'FUNCTION_BUILD', status: 'SUCCESS', source: 'builder', functionId: view.functionId });
    expect(done.payload).toEqual({ buildId: view.id, functionId: view.functionId, version: 1, bundleDigest: view.bundleDigest, image: null, cached: false });
  });

  it('fails a node build whose package.json names a package the registry does not have, naming it', async () => {
    const view = await b.build({
      files: {
        'handler.js': 'module.exports.handle = () => 1;\n',
        'package.json': JSON.stringify({ name: 'x', version: '1.0.0', dependencies: { 'hks-no-such-package-4f2a9c': '^1.0.0' } }),
      },
    });
    expect(view.status).toBe('FAILED');
    expect(view.error).toBe('npm install failed: package "hks-no-such-package-4f2a9c" (^1.0.0) was not found in the npm registry');
    expect(view.log).toContain('E404');
    expect(view.bundleDigest).toBeNull();
    expect(await eventNames(view.id, 'build.failed')).toEqual(['build.started', 'build.failed']);
    const failed = b.eventsOf(view.id)[1];
    expect(failed).toMatchObject({ status: 'FAILURE', error: view.error });
    expect((failed.payload as { log: string }).log).toContain('E404');
  });

  it('fails a TypeScript build with the type error and its position, keeping the log', async () => {
    const view = await b.build({
      template: 'typescript',
      files: { 'handler.ts': "const n: number = 'not a number';\nexport default function () { return n; }\n" },
    });
    expect(view.status).toBe('FAILED');
    expect(view.error).toBe("handler.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.");
    expect(view.log).toContain("handler.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.");
    await eventNames(view.id, 'build.failed');
  });

  it('compiles TypeScript to JavaScript in the bundle, and reuses the build when nothing changed', async () => {
    const functionId = randomUUID();
    const job = {
      functionId,
      label: 'ts-echo',
      template: 'typescript' as const,
      files: { 'handler.ts': 'export default function (data: unknown) { return data; }\n' },
    };
    const first = await b.build(job);
    expect(first).toMatchObject({ status: 'SUCCEEDED', cached: false });
    const files = await bundleOf(first);
    expect(files.get('handler.js')?.data?.toString()).toContain('exports.default = ');
    expect(files.has('handler.ts')).toBe(true);

    const again = await b.build({ ...job, version: 2 });
    expect(again).toMatchObject({ status: 'SUCCEEDED', cached: true, bundleDigest: first.bundleDigest, inputDigest: first.inputDigest });
    expect(again.log).toContain(`reusing build ${first.id}`);
    await eventNames(again.id, 'build.succeeded');
    expect(b.eventsOf(again.id)[1].payload).toMatchObject({ cached: true, bundleDigest: first.bundleDigest });

    const changed = await b.build({ ...job, version: 3, files: { 'handler.ts': 'export default function (d: unknown) { return [d]; }\n' } });
    expect(changed).toMatchObject({ status: 'SUCCEEDED', cached: false });
    expect(changed.bundleDigest).not.toBe(first.bundleDigest);

    const listed = await b.rpc.call<BuildView[]>('builder', BuildPatterns.ListForFunction, { functionId });
    expect(listed.map((v) => v.id)).toEqual([changed.id, again.id, first.id]);
    const byLabel = await b.rpc.call<BuildView[]>('builder', BuildPatterns.ListForFunction, { functionId: 'ts-echo' });
    expect(byLabel.map((v) => v.id)).toEqual([changed.id, again.id, first.id]);
  });

  it('fails a Python build on a syntax error, naming the file and line', async () => {
    const view = await b.build({
      template: 'python',
      family: 'python',
      runtime: 'python3',
      files: { 'handler.py': 'def handle(data):\n    return data +\n' },
    });
    expect(view.status).toBe('FAILED');
    expect(view.error).toMatch(/^handler\.py:2:\d+: SyntaxError: invalid syntax/);
    expect(view.log).toContain('return data +');
  });

  it('installs requirements.txt from the wheelhouse into .deps/', async () => {
    const view = await b.build({
      template: 'python',
      family: 'python',
      runtime: 'python3.11',
      entrypoint: 'handler.handle',
      files: {
        'handler.py': 'import hks_tiny\n\ndef handle(data):\n    return {"value": hks_tiny.VALUE}\n',
        'requirements.txt': '# tiny test wheel\nhks-tiny==1.0.0\n',
      },
    });
    expect(view.status).toBe('SUCCEEDED');
    expect(view.log).toContain('Successfully installed hks-tiny-1.0.0');
    const files = await bundleOf(view);
    expect(files.get('.deps/hks_tiny/__init__.py')?.data?.toString()).toBe('VALUE = 42\n');
    expect([...files.keys()].some((p) => p.endsWith('.pyc'))).toBe(false);
  });

  it('fails a Python build whose requirement is in no wheel, naming it', async () => {
    const view = await b.build({
      template: 'python',
      family: 'python',
      runtime: 'python3',
      files: { 'handler.py': 'def handle(d):\n    return d\n', 'requirements.txt': 'hks-absent-package==2.0\n' },
    });
    expect(view.status).toBe('FAILED');
    expect(view.error).toBe(`pip install failed: no distribution of "hks-absent-package==2.0" found in the wheelhouse ${wheelhouse}`);
    expect(view.log).toContain('No matching distribution found for hks-absent-package==2.0');
  });

  it('fails when the entry point names a module that is not among the files', async () => {
    const view = await b.build({ entrypoint: 'main.handle', files: { 'handler.js': 'module.exports.handle = () => 1;\n' } });
    expect(view.status).toBe('FAILED');
    expect(view.error).toContain('entry point "main.handle" names module "main", but there is no main.js');
  });

  it('answers 404 for an unknown build and 400 for a request without a build id', async () => {
    await expect(b.rpc.call('builder', BuildPatterns.Get, { buildId: randomUUID() })).rejects.toMatchObject({ statusCode: 404 });
    await expect(b.rpc.call('builder', BuildPatterns.Get, {})).rejects.toMatchObject({ statusCode: 400, message: expect.stringContaining('buildId') });
    expect(await b.rpc.call('builder', BuildPatterns.ListForFunction, { functionId: randomUUID() })).toEqual([]);
  });

  it('keeps no source in Redis: the job names the version, the builder reads the code from the registry', async () => {
    const marker = `source-marker-${randomUUID()}`;
    const view = await b.build({ files: { 'handler.js': `module.exports.handle = () => '${marker}';\n` } });
    expect(view.status).toBe('SUCCEEDED');
    const job = await b.queue.getJob(view.id);
    expect(Object.keys(job?.data ?? {}).sort()).toEqual(['buildId', 'functionId', 'label', 'requestedAt', 'sourceDigest', 'version']);
    const redis = new IORedis(redisConnectionOptions(b.env.REDIS_URL));
    try {
      const keys = await redis.keys(`${bullPrefix(b.env.HKS_NAMESPACE)}:*`);
      expect(keys.length).toBeGreaterThan(0);
      for (const key of keys) {
        const type = await redis.type(key);
        const dump =
          type === 'hash'
            ? JSON.stringify(await redis.hgetall(key))
            : type === 'string'
              ? await redis.get(key)
              : JSON.stringify(await redis.sort(key, 'ALPHA').catch(() => []));
        expect({ key, hasSource: (dump ?? '').includes(marker) }).toEqual({ key, hasSource: false });
      }
    } finally {
      redis.disconnect();
    }
    const files = await bundleOf(view);
    expect(files.get('handler.js')?.data?.toString()).toContain(marker);
  });

  it('fails the build, saying so, when the source is not the one the build was requested for', async () => {
    const view = await b.build({ files: { 'handler.js': 'module.exports.handle = () => 1;\n' }, sourceDigest: `sha256:${'0'.repeat(64)}` });
    expect(view.status).toBe('FAILED');
    expect(view.error).toContain('is not the one the build was requested for');
  });

  it('refuses (401) every HTTP route but health to a caller without the internal credential (routes read from the app)', async () => {
    const routes = httpRoutes(b.app).filter((r) => !['/healthz', '/readyz'].includes(r.path));
    expect(routes.map((r) => `${r.method} ${r.path}`)).toContain('GET /artifacts/sha256/:hex');
    for (const r of routes) {
      const url = `${b.url}${samplePath(r.path, '0'.repeat(64))}`;
      for (const headers of [{}, { [INTERNAL_TOKEN_HEADER]: 'wrong' }] as Record<string, string>[]) {
        const res = await fetch(url, { method: r.method, headers });
        expect({ route: `${r.method} ${r.path}`, status: res.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
        expect(((await res.json()) as { message: string }).message).toContain(INTERNAL_TOKEN_HEADER);
      }
      const ok = await fetch(url, { method: r.method, headers: b.credential });
      expect(ok.status).not.toBe(401);
      await ok.text();
    }
    expect((await fetch(`${b.url}/healthz`)).status).toBe(200);
  });

  it('serves only stored bundles: 404 for an unknown digest, 400 for something that is not one', async () => {
    const unknown = await fetch(`${b.url}/artifacts/sha256/${'0'.repeat(64)}`, { headers: b.credential });
    expect(unknown.status).toBe(404);
    expect(((await unknown.json()) as { message: string }).message).toContain('no bundle with digest');
    const bad = await fetch(`${b.url}/artifacts/sha256/..%2F..%2Fetc%2Fpasswd`, { headers: b.credential });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toContain('64 lowercase hex digits');
  });
});
