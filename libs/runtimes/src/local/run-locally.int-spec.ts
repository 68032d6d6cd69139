import { spawn, spawnSync } from 'child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import * as ts from 'typescript';
import { waitFor } from '@platform/testing';
import { runtimesDir } from '../runtimes-dir';
import { runLocally } from './run-locally';

/** A bundle directory the sandbox's unprivileged user can read. */
function bundle(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'hks-local-'));
  chmodSync(dir, 0o755);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text, { mode: 0o644 });
  return dir;
}

describe('runLocally: one invocation in the same shim and sandbox as the platform', () => {
  const dirs: string[] = [];
  const make = (files: Record<string, string>) => {
    const d = bundle(files);
    dirs.push(d);
    return d;
  };
  afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('runs a TypeScript default export compiled to CommonJS, in the sandbox, and returns its logs', async () => {
    const js = ts.transpileModule('export default async function (data: { name: string }) { console.log("called"); return { hi: data.name }; }', {
      compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
    }).outputText;
    const r = await runLocally({ bundleDir: make({ 'handler.js': js }), family: 'node', entrypoint: 'handler.default', data: { name: 'Ann' } });
    expect(r).toMatchObject({ statusCode: 200, json: { hi: 'Ann' }, logs: 'called\n', sandboxed: true });
  });

  it("runs an async python handler with request.get('name') and the invocation context", async () => {
    const dir = make({
      'handler.py': "async def handle(request, context):\n    return {'name': request.get('name'), 'left': context.get_remaining_time_in_millis() > 0}\n",
    });
    const r = await runLocally({ bundleDir: dir, family: 'python', entrypoint: 'handler.*', data: { name: 'Bo' } });
    expect(r.json).toEqual({ name: 'Bo', left: true });
  });

  it('gives an HTTP-style python handler a binary body as base64 and sends bytes back', async () => {
    const dir = make({ 'handler.py': "import base64\n\ndef handle(request):\n    return bytes(reversed(base64.b64decode(request['body'])))\n" });
    const r = await runLocally({
      bundleDir: dir,
      family: 'python',
      request: { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.from([1, 2, 255]) },
    });
    expect([...r.body]).toEqual([255, 2, 1]);
    expect(r.headers['content-type']).toBe('application/octet-stream');
  });

  it('reports a handler exception by name and message', async () => {
    const r = await runLocally({
      bundleDir: make({ 'handler.js': 'exports.handle = () => { throw new RangeError("too far"); };' }),
      family: 'node',
      entrypoint: 'handler.handle',
    });
    expect(r.statusCode).toBe(500);
    expect(r.error).toMatchObject({ name: 'RangeError', message: 'too far' });
  });

  it('says when the entry point does not exist', async () => {
    const r = await runLocally({ bundleDir: make({ 'main.py': 'x = 1\n' }), family: 'python', entrypoint: 'handler.handle' });
    expect(r.statusCode).toBe(500);
    expect(r.error!.message).toContain('cannot find the entry module "handler"');
  });

  it('stops a handler at its time limit', async () => {
    const r = await runLocally({
      bundleDir: make({ 'handler.js': 'exports.handle = () => { for (;;) {} };' }),
      family: 'node',
      entrypoint: 'handler.handle',
      timeoutMs: 500,
    });
    expect(r.statusCode).toBe(504);
    expect(r.error!.message).toContain('time limit of 500 ms');
  });

  it("gives a handler with egress a network of its own, as on the platform: slirp4netns's DNS, not the host's loopback", async () => {
    const host = http.createServer((_req, res) => res.end('host loopback'));
    await new Promise<void>((r) => host.listen(0, '127.0.0.1', r));
    const { port } = host.address() as AddressInfo;
    try {
      const dir = make({
        'handler.js': `const fs = require('fs'), net = require('net');
          module.exports.handle = () => new Promise((resolve) => {
            const s = net.connect(${port}, '127.0.0.1', () => resolve('connected'));
            s.on('error', (e) => resolve({ error: e.code, resolv: fs.readFileSync('/etc/resolv.conf', 'utf8') }));
          });`,
      });
      const r = await runLocally({ bundleDir: dir, family: 'node', entrypoint: 'handler.handle', egress: true });
      expect(r.json).toEqual({ error: 'ECONNREFUSED', resolv: 'nameserver 10.0.2.3\n' });
    } finally {
      await new Promise((r) => host.close(r));
    }
  });
});

describe('shim modes for images and by hand', () => {
  it('serves a python handler over HTTP on PORT (the image entrypoint), HTTP style and data style', async () => {
    const dir = bundle({ 'handler.py': "def handle(request):\n    return {'got': request.get('name'), 'path': request.get('path')}\n" });
    const srv = http.createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const { port } = srv.address() as AddressInfo;
    await new Promise((r) => srv.close(r));
    const child = spawn('/usr/bin/python3', ['-I', '-B', path.join(runtimesDir(), 'python', 'shim', 'main.py'), '--http'], {
      env: { PATH: '/usr/bin:/bin', PORT: String(port), HOST: '127.0.0.1', HKS_CODE_DIR: dir, HKS_ENTRYPOINT: 'handler.handle' },
      stdio: 'ignore',
    });
    try {
      const base = `http://127.0.0.1:${port}`;
      await waitFor(async () => (await fetch(`${base}/x`).catch(() => undefined))?.ok, { what: 'the python shim to listen' });
      const httpStyle = await fetch(`${base}/orders?name=Cy`);
      expect(await httpStyle.json()).toEqual({ got: null, path: '/orders' });
      const posted = await fetch(`${base}/p`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'Di' }) });
      expect(await posted.json()).toEqual({ got: 'Di', path: '/p' });
      const data = await fetch(`${base}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-hks-invocation-style': 'data' },
        body: JSON.stringify({ data: { name: 'Ed' } }),
      });
      expect(await data.json()).toEqual({ got: 'Ed', path: null });
    } finally {
      child.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('runs a node handler once from stdin and prints one JSON line, the handler output going to stderr', () => {
    const dir = bundle({ 'handler.js': 'module.exports = (d) => { console.log("side note"); return { twice: d * 2 }; };' });
    const r = spawnSync(process.execPath, [path.join(runtimesDir(), 'node', 'shim', 'index.js'), '--once', '--code', dir, '--entrypoint', 'handler.*'], {
      input: '{"data": 21}',
      encoding: 'utf8',
    });
    rmSync(dir, { recursive: true, force: true });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ statusCode: 200, headers: { 'content-type': 'application/json' }, body: '{"twice":42}', isBase64Encoded: false });
    expect(r.stderr).toBe('side note\n');
  });
});
