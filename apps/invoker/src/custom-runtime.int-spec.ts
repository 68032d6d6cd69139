import { mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { buildStaticGoProgram, TEST_HTTP_SERVER_GO } from '@platform/testing';
import { InvokerHarness, startInvoker } from './testing/invoker-harness';

jest.setTimeout(120_000);

/**
 * The custom runtime against the real sandbox: a static Go program and a Python script, each its own HTTP server
 * on $PORT, behind the worker-side adapter (the frame protocol on one side, HTTP to 127.0.0.1:$PORT in the sandbox's
 * own network namespace on the other).
 */
describe('invoker: custom runtime (any executable serving HTTP on $PORT)', () => {
  let inv: InvokerHarness;
  let work: string;
  let server: Buffer;
  const LOAD_TIMEOUT_MS = 4000;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'hks-custom-'));
    await buildStaticGoProgram(TEST_HTTP_SERVER_GO, path.join(work, 'server'));
    server = readFileSync(path.join(work, 'server'));
    inv = await startInvoker({ INVOKER_LOAD_TIMEOUT_MS: String(LOAD_TIMEOUT_MS) });
    await inv.deploy({
      label: 'go-server',
      family: 'custom',
      entrypoint: 'bootstrap',
      files: { bootstrap: server },
      config: { env: { GREETING: 'hello from config' }, resources: { timeoutMs: 1500 } },
    });
  });

  afterAll(async () => {
    await inv?.close();
    rmSync(work, { recursive: true, force: true });
  });

  const eventOf = async (res: { headers: Headers }) => (await inv.tap.invocation(res.headers.get('x-invocation-id')!)).result;

  it("forwards an HTTP-style invocation as is and passes the process's status, headers and body back", async () => {
    const res = await inv.request('POST', '/http/go-server/orders/7?x=1&y=two', '{"item":"tea"}', { 'content-type': 'application/json', 'x-custom': 'kept' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({
      method: 'POST',
      path: '/orders/7',
      query: 'x=1&y=two',
      body: '{"item":"tea"}',
      contentType: 'application/json',
      custom: 'kept',
      greeting: 'hello from config',
      cwd: '/code',
    });
    expect(res.json.invocationId).toBe(res.headers.get('x-invocation-id'));
    const teapot = await inv.request('GET', '/http/go-server/anything?status=418');
    expect(teapot.status).toBe(418);
    expect(teapot.headers.get('x-upstream')).toBe('yes');
  });

  it('POSTs a data-style invocation to / as JSON', async () => {
    const res = await inv.request('POST', '/invoke/go-server', JSON.stringify({ data: { name: 'Alice' } }), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ method: 'POST', path: '/', body: '{"name":"Alice"}', contentType: 'application/json', style: 'data' });
  });

  it("records the process's stdout and stderr as the logs of the invocation in flight", async () => {
    const res = await inv.request('GET', '/http/go-server/logged');
    const event = await eventOf(res);
    expect(event).toMatchObject({ status: 'SUCCESS' });
    expect(event.metadata!.logs).toContain('request GET /logged');
    expect(event.metadata!.logs).toContain(`stderr line for ${res.headers.get('x-invocation-id')}`);
  });

  it('has no network by default: 127.0.0.1 is the sandbox’s own, nothing outside is reachable', async () => {
    const res = await inv.request('GET', '/http/go-server/net');
    expect(res.json).toEqual({ reached: false });
  });

  it('stops a request past the time limit (504) and the next one gets a fresh process', async () => {
    const res = await inv.request('GET', '/http/go-server/sleep?ms=5000');
    expect(res.status).toBe(504);
    expect(res.json.message).toContain('did not finish within its time limit of 1500 ms');
    expect((await inv.request('GET', '/http/go-server/after')).status).toBe(200);
  });

  it('fails the invocation during which the process exits, with its exit code and last output, then serves again', async () => {
    const res = await inv.request('GET', '/http/go-server/crash');
    expect(res.status).toBe(500);
    expect(res.json.message).toMatch(/the function's process exited with code 3 during the invocation; its last output: .*crashing now/s);
    expect((await eventOf(res)).status).toBe('FAILURE');
    expect((await inv.request('GET', '/http/go-server/again')).status).toBe(200);
  });

  it('runs a script by its shebang line (#!/usr/bin/python3) and a command with arguments', async () => {
    await inv.deploy({
      label: 'py-server',
      family: 'custom',
      entrypoint: 'serve.py --greeting py',
      files: {
        'serve.py': [
          '#!/usr/bin/python3',
          'import http.server, json, os, sys',
          'class H(http.server.BaseHTTPRequestHandler):',
          '    def do_GET(self):',
          '        body = json.dumps({"args": sys.argv[1:], "port": os.environ["PORT"]}).encode()',
          '        self.send_response(203); self.send_header("content-type", "application/json"); self.end_headers(); self.wfile.write(body)',
          'http.server.HTTPServer(("127.0.0.1", int(os.environ["PORT"])), H).serve_forever()',
          '',
        ].join('\n'),
      },
    });
    const res = await inv.request('GET', '/http/py-server/');
    expect(res.status).toBe(203);
    expect(res.json).toEqual({ args: ['--greeting', 'py'], port: '8080' });
  });

  it('says when the process exits before it listens (with its output), and when it never listens', async () => {
    await inv.deploy({ label: 'exits-early', family: 'custom', entrypoint: 'bootstrap --exit-early', files: { bootstrap: server } });
    const early = await inv.request('GET', '/invoke/exits-early');
    expect(early.status).toBe(500);
    expect(early.json.message).toContain("could not be loaded: the function's process exited with code 7 before it listened on port 8080");
    expect(early.json.message).toContain('giving up before listening');

    await inv.deploy({ label: 'never-listens', family: 'custom', entrypoint: 'bootstrap --never-listen', files: { bootstrap: server } });
    const never = await inv.request('GET', '/invoke/never-listens');
    expect(never.status).toBe(500);
    expect(never.json.message).toMatch(/did not listen on 127\.0\.0\.1:8080 \(\$PORT\) within \d+ ms; its last output: not listening, on purpose/);
  });

  it('says which program is missing', async () => {
    await inv.deploy({ label: 'no-program', family: 'custom', entrypoint: 'server', files: { 'README.md': 'no program here' } });
    const res = await inv.request('GET', '/invoke/no-program');
    expect(res.status).toBe(500);
    expect(res.json.message).toContain('could not start server: no such file');
  });
});
