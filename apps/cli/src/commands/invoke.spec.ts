import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { FakeGateway, hks } from '../../test/fake-gateway';

describe('hks function invoke (against a fake gateway)', () => {
  const gw = new FakeGateway();
  beforeAll(() => gw.start());
  afterAll(() => gw.stop());
  beforeEach(() => gw.reset());

  const invoke = (...args: string[]) => hks(['function', 'invoke', ...args], { gateway: gw.url });

  it('sends --data as {"data": ...} and prints the JSON response', async () => {
    gw.on('POST', '/api/v1/functions/invoke/:name', (req) => ({
      body: { received: (req.body as { data: unknown }).data },
      headers: { 'x-invocation-id': 'inv-1', 'x-cold-start': 'true', 'x-duration-ms': '12' },
    }));
    const r = await invoke('hello-world', '--data', '{"file": "s3://bucket/data.csv"}');
    expect(r).toEqual({ code: 0, stdout: '{\n  "received": {\n    "file": "s3://bucket/data.csv"\n  }\n}\n', stderr: '' });
    expect(gw.requests[0]).toMatchObject({ method: 'POST', path: '/api/v1/functions/invoke/hello-world', body: { data: { file: 's3://bucket/data.csv' } } });
  });

  it('prints a text response as it is, and the invocation facts with --verbose', async () => {
    gw.on('POST', '/api/v1/functions/invoke/:name', () => ({
      text: 'Hello Alice',
      headers: { 'x-invocation-id': 'inv-2', 'x-cold-start': 'false', 'x-duration-ms': '3' },
    }));
    const r = await invoke('hello-world', '--data', 'Alice', '-v');
    expect(r.stdout).toBe('Hello Alice\n');
    expect(r.stderr).toBe('HTTP 200  invocation inv-2  cold start false  duration 3 ms\n');
    expect(gw.requests[0].body).toEqual({ data: 'Alice' });
  });

  it('reads --data @file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hks-data-'));
    writeFileSync(path.join(dir, 'in.json'), '{"n": 2}');
    gw.on('POST', '/api/v1/functions/invoke/:name', () => ({ body: 'ok' }));
    await hks(['function', 'invoke', 'f', '--data', '@in.json'], { gateway: gw.url, cwd: dir });
    expect(gw.requests[0].body).toEqual({ data: { n: 2 } });
    const missing = await hks(['function', 'invoke', 'f', '--data', '@nope.json'], { gateway: gw.url, cwd: dir });
    expect(missing).toMatchObject({ code: 2, stderr: `error: --data @nope.json: cannot read ${path.join(dir, 'nope.json')}\n` });
    rmSync(dir, { recursive: true, force: true });
  });

  it("exits 1 with the platform's error when the function fails", async () => {
    gw.on('POST', '/api/v1/functions/invoke/:name', () => ({
      status: 500,
      body: { statusCode: 500, error: 'Internal Server Error', message: 'ZeroDivisionError: division by zero' },
      headers: { 'x-invocation-id': 'inv-3' },
    }));
    const r = await invoke('divider', '--data', '{}');
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: ZeroDivisionError: division by zero (HTTP 500, invocation inv-3)\n' });
  });

  it('says clearly that an unknown function does not exist', async () => {
    const r = await invoke('nope');
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: function "nope" does not exist (hks function list shows the functions)\n' });
  });

  it('gives status, headers and body as JSON with -o json', async () => {
    gw.on('POST', '/api/v1/functions/invoke/:name', () => ({ body: [1, 2], headers: { 'x-invocation-id': 'inv-4' } }));
    const r = await invoke('f', '-o', 'json');
    expect(JSON.parse(r.stdout)).toMatchObject({ status: 200, invocationId: 'inv-4', body: [1, 2] });
    expect(gw.requests[0].body).toEqual({ data: {} });
  });
});

describe('hks function invoke --async (against a fake gateway)', () => {
  const gw = new FakeGateway();
  beforeAll(() => gw.start());
  afterAll(() => gw.stop());
  beforeEach(() => gw.reset());

  const accepted = {
    invocationId: '4b0c2f5e-8d1a-4c3e-9f7a-2d6b8e1c0a93',
    functionId: '11111111-2222-4333-8444-555555555555',
    status: 'queued',
    statusUrl: '/api/v1/invocations/4b0c2f5e-8d1a-4c3e-9f7a-2d6b8e1c0a93',
    duplicate: false,
  };
  const acceptAll = () => gw.on('POST', '/api/v1/functions/invoke/:name', () => ({ status: 202, body: accepted, headers: { location: accepted.statusUrl } }));

  it('asks with Prefer: respond-async and prints the 202 body, and how to follow it', async () => {
    acceptAll();
    const r = await hks(['function', 'invoke', 'hello', '--async', '--data', '{"n": 1}'], { gateway: gw.url });
    expect(r).toEqual({
      code: 0,
      stdout: `${JSON.stringify(accepted, null, 2)}\n`,
      stderr: `queued; follow it with: hks invocations get ${accepted.invocationId}\n`,
    });
    expect(gw.requests[0].headers).toMatchObject({ prefer: 'respond-async' });
    expect(gw.requests[0].headers).not.toHaveProperty('x-callback-url');
    expect(gw.requests[0].body).toEqual({ data: { n: 1 } });
  });

  it('sends --callback-url (which implies --async) and --idempotency-key', async () => {
    acceptAll();
    const r = await hks(['function', 'invoke', 'hello', '--callback-url', 'https://example.com/hook', '--idempotency-key', 'order-42'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(gw.requests[0].headers).toMatchObject({ prefer: 'respond-async', 'x-callback-url': 'https://example.com/hook', 'idempotency-key': 'order-42' });
  });

  it('refuses --idempotency-key without --async, and a callback URL that is not http(s), before sending anything', async () => {
    expect(await hks(['function', 'invoke', 'hello', '--idempotency-key', 'k'], { gateway: gw.url })).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: --idempotency-key applies to asynchronous invocations: add --async\n',
    });
    expect((await hks(['function', 'invoke', 'hello', '--callback-url', 'example.com/hook'], { gateway: gw.url })).stderr).toBe(
      'error: --callback-url example.com/hook is not an http:// or https:// URL\n',
    );
    expect(gw.requests).toHaveLength(0);
  });

  it("says the gateway's refusal of an async request (a full queue)", async () => {
    gw.on('POST', '/api/v1/functions/invoke/:name', () => ({
      status: 429,
      body: { statusCode: 429, error: 'Too Many Requests', message: 'function hello has 10 asynchronous invocations queued (scaling.asyncQueueSize)' },
    }));
    const r = await hks(['function', 'invoke', 'hello', '--async'], { gateway: gw.url });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: function hello has 10 asynchronous invocations queued (scaling.asyncQueueSize) (HTTP 429)\n' });
  });
});

describe('hks invoke (the short form of hks function invoke)', () => {
  const gw = new FakeGateway();
  beforeAll(() => gw.start());
  afterAll(() => gw.stop());

  it('invokes the same way, --async included', async () => {
    gw.on('POST', '/api/v1/functions/invoke/:name', () => ({ status: 202, body: { invocationId: 'i', statusUrl: '/api/v1/invocations/i' } }));
    const r = await hks(['invoke', 'hello', '--async'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ invocationId: 'i' });
    expect(gw.requests[0]).toMatchObject({ path: '/api/v1/functions/invoke/hello', headers: { prefer: 'respond-async' } });
  });
});
