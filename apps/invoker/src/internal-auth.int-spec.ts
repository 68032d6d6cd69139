import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { createServer, IncomingHttpHeaders, Server } from 'http';
import type { AddressInfo } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import { randomUUID } from 'crypto';
import { INTERNAL_TOKEN_FILE } from '@platform/config';
import { INTERNAL_TOKEN_HEADER } from '@platform/contracts';
import { httpRoutes, samplePath } from '@platform/testing';
import { runtimeSpec, writeBundle } from './testing/bundles';
import { InvokerHarness, startInvoker } from './testing/invoker-harness';

const PROBES = new Set(['/healthz', '/readyz']);

describe('invoker: every internal route needs the internal credential (routes read from the running app)', () => {
  let inv: InvokerHarness;
  let token: string;
  /** The Nest routes, plus the two invocation prefixes the plain-http InvokeServer serves in front of Nest. */
  let routes: { method: string; path: string }[];

  /** Stands in for the builder: serves bundles from its own directory, only to a caller with the credential. */
  const builderDir = mkdtempSync(path.join(tmpdir(), 'hks-fake-builder-'));
  const builderSaw: IncomingHttpHeaders[] = [];
  let builder: Server;

  beforeAll(async () => {
    builder = createServer((req, res) => {
      builderSaw.push(req.headers);
      if (req.headers[INTERNAL_TOKEN_HEADER] !== token) {
        res.writeHead(401).end();
        return;
      }
      const hex = (req.url ?? '').split('/').pop() ?? '';
      try {
        const tar = readFileSync(path.join(builderDir, 'artifacts', 'sha256', `${hex}.tar`));
        res.writeHead(200, { 'content-type': 'application/x-tar' }).end(tar);
      } catch {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((resolve) => builder.listen(0, '127.0.0.1', resolve));
    inv = await startInvoker({ BUILDER_URL: `http://127.0.0.1:${(builder.address() as AddressInfo).port}` });
    await inv.deploy({
      label: 'header-echo',
      family: 'node',
      entrypoint: 'handler.handle',
      files: { 'handler.js': 'module.exports.handle = async (event) => ({ statusCode: 200, body: JSON.stringify(event.headers || {}) });\n' },
    });
    token = readFileSync(path.join(inv.dataDir, INTERNAL_TOKEN_FILE), 'utf8');
    routes = [
      ...httpRoutes(inv.app).map((r) => ({ method: r.method, path: samplePath(r.path) })),
      { method: 'POST', path: '/invoke/header-echo' },
      { method: 'GET', path: '/http/header-echo/some/path' },
    ];
  }, 90_000);

  afterAll(async () => {
    await inv?.close();
    await new Promise((resolve) => builder?.close(resolve));
    rmSync(builderDir, { recursive: true, force: true });
  });

  const call = (method: string, path: string, headers: Record<string, string>) =>
    fetch(inv.url + path, {
      method,
      headers: { 'content-type': 'application/json', ...headers },
      body: method === 'GET' || method === 'DELETE' ? undefined : '{}',
    });

  it('knows the deployments API, health and the invocation routes', () => {
    const paths = routes.map((r) => `${r.method} ${r.path}`);
    expect(paths).toEqual(expect.arrayContaining(['GET /deployments', 'GET /healthz', 'GET /readyz', 'POST /invoke/header-echo']));
    expect(paths.some((p) => p.startsWith('PUT /deployments/'))).toBe(true);
    expect(paths.some((p) => p.startsWith('DELETE /deployments/'))).toBe(true);
  });

  it('answers 401 naming the header to a caller without it or with a wrong one, on every route but health', async () => {
    for (const r of routes.filter((x) => !PROBES.has(x.path))) {
      const none = await call(r.method, r.path, {});
      expect({ route: `${r.method} ${r.path}`, status: none.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
      expect(((await none.json()) as { message: string }).message).toContain(INTERNAL_TOKEN_HEADER);
      const wrong = await call(r.method, r.path, { [INTERNAL_TOKEN_HEADER]: 'f'.repeat(64) });
      expect({ route: `${r.method} ${r.path}`, status: wrong.status }).toEqual({ route: `${r.method} ${r.path}`, status: 401 });
      await wrong.text();
    }
  });

  it('lets the right credential through on every route, and keeps health open to probes without it', async () => {
    for (const r of routes) {
      const res = await call(r.method, r.path, PROBES.has(r.path) ? {} : { [INTERNAL_TOKEN_HEADER]: token });
      expect({ route: `${r.method} ${r.path}`, refused: res.status === 401 }).toEqual({ route: `${r.method} ${r.path}`, refused: false });
      await res.text();
    }
    // The deployment is still there: the sample DELETE named no deployed function.
    const res = await inv.request('GET', '/deployments');
    expect(res.status).toBe(200);
  });

  it('presents the credential to the builder when it downloads a bundle it does not have', async () => {
    const bundleDigest = await writeBundle(builderDir, 'node', 'handler.handle', {
      'handler.js': 'module.exports.handle = async () => ({ fetched: true });\n',
    });
    const fn = runtimeSpec({ label: 'from-builder', family: 'node', entrypoint: 'handler.handle', bundleDigest, functionId: randomUUID() });
    const put = await inv.request('PUT', `/deployments/${fn.spec.functionId}`, JSON.stringify({ deploymentId: fn.deploymentId, spec: fn.spec, env: {} }), {
      'content-type': 'application/json',
    });
    expect(put.status).toBe(200);
    expect(builderSaw.length).toBeGreaterThan(0);
    expect(builderSaw.every((h) => h[INTERNAL_TOKEN_HEADER] === token)).toBe(true);
    const res = await inv.request('POST', '/invoke/from-builder', '{}', { 'content-type': 'application/json' });
    expect(res.json).toEqual({ fetched: true });
  });

  it('does not pass the credential on to the function', async () => {
    const res = await inv.request('GET', '/http/header-echo/x');
    expect(res.status).toBe(200);
    expect(Object.keys(res.json as object)).not.toContain(INTERNAL_TOKEN_HEADER);
    expect(res.text).not.toContain(token);
  });
});
