import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import type { GatewaySettingsValues } from '../settings';
import { CONSOLE_CSP, ConsoleRoute } from './console-route';

/** The console's static files, served by ConsoleRoute in front of a server whose other requests get 418. */
describe('ConsoleRoute', () => {
  let dir: string;
  let server: http.Server;
  let base: string;

  const start = async (consoleDir: string) => {
    const route = new ConsoleRoute({ GATEWAY_CONSOLE_DIR: consoleDir } as GatewaySettingsValues);
    server = http.createServer((req, res) => {
      if (!route.handle(req, res)) res.writeHead(418).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-console-'));
    mkdirSync(path.join(dir, 'assets'));
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><html><head><title>c</title></head><body></body></html>');
    writeFileSync(path.join(dir, 'assets', 'index-abc123.js'), 'console.log(1)');
    writeFileSync(path.join(dir, 'assets', 'index-abc123.css'), 'body{}');
  });
  afterEach(async () => {
    await new Promise((r) => server?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers index.html with a nonce for styles, new each time, under the strict policy', async () => {
    await start(dir);
    const a = await fetch(`${base}/console/`);
    const b = await fetch(`${base}/console/`);
    expect(a.status).toBe(200);
    expect(a.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const nonce = /name="hks-style-nonce" content="([^"]+)"/.exec(await a.text())?.[1];
    expect(nonce).toMatch(/^[A-Za-z0-9+/]{24}$/);
    expect(a.headers.get('content-security-policy')).toBe(`${CONSOLE_CSP}; style-src 'self' 'nonce-${nonce}'`);
    expect(b.headers.get('content-security-policy')).not.toContain(nonce);
    expect(a.headers.get('cache-control')).toBe('no-cache');
  });

  it('serves hashed assets with their type, cached for good', async () => {
    await start(dir);
    const js = await fetch(`${base}/console/assets/index-abc123.js`);
    expect([js.status, js.headers.get('content-type'), js.headers.get('cache-control')]).toEqual([
      200,
      'text/javascript; charset=utf-8',
      'public, max-age=31536000, immutable',
    ]);
    expect(js.headers.get('content-security-policy')).toBe(CONSOLE_CSP);
    expect((await fetch(`${base}/console/assets/index-abc123.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it("answers the app's routes with index.html, a missing asset with 404, and never a file outside its folder", async () => {
    writeFileSync(path.join(path.dirname(dir), 'secret.txt'), 'no');
    await start(dir);
    const route = await fetch(`${base}/console/functions/abc/stats?x=1`);
    expect([route.status, (await route.text()).includes('<title>c</title>')]).toEqual([200, true]);
    expect((await fetch(`${base}/console/assets/index-old999.js`)).status).toBe(404);
    expect((await fetch(`${base}/console/..%2f..%2fsecret.txt`)).status).toBe(404);
  });

  it('redirects /console to /console/, refuses other methods, and leaves other paths alone', async () => {
    await start(dir);
    const r = await fetch(`${base}/console?a=b`, { redirect: 'manual' });
    expect([r.status, r.headers.get('location')]).toEqual([308, '/console/?a=b']);
    const post = await fetch(`${base}/console/`, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    expect((await fetch(`${base}/consoles`)).status).toBe(418);
    expect((await fetch(`${base}/api/v1/functions`)).status).toBe(418);
  });

  it('says how to build the console when it is not built', async () => {
    await start(path.join(dir, 'nothing-here'));
    const r = await fetch(`${base}/console/`);
    expect(r.status).toBe(404);
    expect(((await r.json()) as { message: string }).message).toContain('npm run build');
  });
});
