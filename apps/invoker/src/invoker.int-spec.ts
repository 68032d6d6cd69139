import { randomUUID } from 'crypto';
import { compileTs } from './testing/bundles';
import { InvokerHarness, startInvoker } from './testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };

describe('invoker: the function contract in sandboxed workers (real bwrap, real RabbitMQ)', () => {
  let inv: InvokerHarness;

  beforeAll(async () => {
    inv = await startInvoker();
    await inv.deploy({
      label: 'ts-echo',
      family: 'node',
      entrypoint: 'handler.default',
      files: { 'handler.js': compileTs('export default function (data: unknown) { console.log("echo", data); return { echoed: data }; }') },
    });
    await inv.deploy({
      label: 'js-hello',
      family: 'node',
      entrypoint: 'handler.handle',
      files: {
        'handler.js': `module.exports.handle = async (event) => {
          if (event && event.fail) throw new TypeError('the input asked me to fail');
          if (event && event.isBase64Encoded) return { statusCode: 200, headers: { 'content-type': 'application/octet-stream' }, body: event.body, isBase64Encoded: true };
          return { hello: event && event.name, query: event && event.query };
        };`,
      },
    });
    await inv.deploy({
      label: 'py-hello',
      family: 'python',
      entrypoint: 'handler.handle',
      files: {
        'handler.py':
          "def handle(request):\n    print('greeting', request.get('name'))\n    return {'statusCode': 200, 'body': 'Hello ' + request.get('name')}\n",
      },
    });
  }, 90_000);

  afterAll(async () => {
    await inv?.close();
  });

  it('runs a TypeScript default export compiled to JS, data style, and records a cold start then warm ones', async () => {
    const first = await inv.request('POST', '/invoke/ts-echo', JSON.stringify({ data: { n: 1 } }), JSON_HEADERS);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ echoed: { n: 1 } });
    expect(first.headers.get('x-cold-start')).toBe('true');
    expect(Number(first.headers.get('x-start-ms'))).toBeGreaterThan(0);
    const cold = await inv.tap.invocation(first.headers.get('x-invocation-id')!);
    expect(cold.result).toMatchObject({
      name: 'invocation.succeeded',
      type: 'FUNCTION_INVOCATION',
      status: 'SUCCESS',
      payload: { n: 1 },
      response: { echoed: { n: 1 } },
      metadata: { coldStart: true, trigger: 'api', version: 1 },
    });
    expect(cold.result.metadata!.startMs).toBeGreaterThan(0);
    expect(cold.result.metadata!.logs).toContain('echo { n: 1 }');

    const second = await inv.request('POST', '/invoke/ts-echo', JSON.stringify({ data: 'again' }), JSON_HEADERS);
    expect(second.json).toEqual({ echoed: 'again' });
    expect(second.headers.get('x-cold-start')).toBe('false');
    const warm = await inv.tap.invocation(second.headers.get('x-invocation-id')!);
    expect(warm.result.metadata).toMatchObject({ coldStart: false, startMs: null });
    expect(warm.result.metadata!.logs).toBe('echo again\n');
  });

  it('hands a module.exports.handle function the whole JSON body, or the query parameters of a GET', async () => {
    const body = await inv.request('POST', '/invoke/js-hello', JSON.stringify({ name: 'Alice' }), JSON_HEADERS);
    expect(body.json).toEqual({ hello: 'Alice' });
    const query = await inv.request('GET', '/invoke/js-hello?name=Bob');
    expect(query.json).toEqual({ hello: 'Bob' });
  });

  it('gives an HTTP-style handler the request plus the top-level fields of its JSON body', async () => {
    const res = await inv.request('POST', '/http/js-hello/some/path?x=1', JSON.stringify({ name: 'Carol' }), JSON_HEADERS);
    expect(res.json).toEqual({ hello: 'Carol', query: { x: '1' } });
  });

  it("lets a python handler read request.get('name') and answer with its own status and text body", async () => {
    const http = await inv.request('POST', '/http/py-hello/', JSON.stringify({ name: 'Alice' }), JSON_HEADERS);
    expect(http.status).toBe(200);
    expect(http.text).toBe('Hello Alice');
    expect(http.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    const data = await inv.request('POST', '/invoke/py-hello', JSON.stringify({ data: { name: 'Dave' } }), JSON_HEADERS);
    expect(data.text).toBe('Hello Dave');
    const { result } = await inv.tap.invocation(data.headers.get('x-invocation-id')!);
    expect(result.metadata!.logs).toBe('greeting Dave\n');
  });

  it('passes binary bodies both ways as base64 without losing a byte', async () => {
    const bytes = Buffer.from([0, 1, 2, 254, 255, 0x89, 0x50, 0x4e, 0x47]);
    const res = await inv.request('POST', '/http/js-hello/upload', bytes, { 'content-type': 'application/octet-stream' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/octet-stream');
    expect(res.body.equals(bytes)).toBe(true);
  });

  it('answers 500 naming the exception when a handler throws, records a FAILURE, and keeps the worker', async () => {
    const res = await inv.request('POST', '/invoke/js-hello', JSON.stringify({ data: { fail: true } }), JSON_HEADERS);
    expect(res.status).toBe(500);
    expect(res.json.message).toContain('TypeError: the input asked me to fail');
    const { result } = await inv.tap.invocation(res.headers.get('x-invocation-id')!);
    expect(result).toMatchObject({ name: 'invocation.failed', status: 'FAILURE', metadata: { reason: 'error' } });
    expect(result.error).toContain('TypeError: the input asked me to fail');
    expect(result.metadata!.logs).toContain('at module.exports.handle');
    const after = await inv.request('POST', '/invoke/js-hello', JSON.stringify({ name: 'Eve' }), JSON_HEADERS);
    expect(after.json).toEqual({ hello: 'Eve' });
    expect(after.headers.get('x-cold-start')).toBe('false');
  });

  it('marks invocations made for a trigger with their trigger', async () => {
    const res = await inv.request('POST', '/invoke/js-hello', JSON.stringify({ data: { name: 'cron' } }), { ...JSON_HEADERS, 'x-hks-trigger': 'schedule' });
    const { result } = await inv.tap.invocation(res.headers.get('x-invocation-id')!);
    expect(result.metadata).toMatchObject({ trigger: 'schedule' });
  });

  it('answers 400 with the parse error when a JSON body is not JSON', async () => {
    const res = await inv.request('POST', '/invoke/js-hello', '{"name": ', JSON_HEADERS);
    expect(res.status).toBe(400);
    expect(res.json.message).toMatch(/not valid JSON/);
  });

  it('answers 400 naming the nesting limit for deeply nested JSON, data style and HTTP style, and keeps serving', async () => {
    const arrays = await inv.request('POST', '/invoke/ts-echo', '['.repeat(5000) + ']'.repeat(5000), JSON_HEADERS);
    expect(arrays.status).toBe(400);
    expect(arrays.json.message).toContain('deeper than 64 levels');
    const objects = await inv.request('POST', '/http/js-hello/x', '{"a":'.repeat(5000), JSON_HEADERS);
    expect(objects.status).toBe(400);
    expect(objects.json.message).toContain('deeper than 64 levels');
    // Without a content type the contract still tries JSON (data style: any text; HTTP style: an object).
    const noType = await inv.request('POST', '/invoke/ts-echo', Buffer.from('['.repeat(5000) + ']'.repeat(5000)));
    expect(noType.status).toBe(400);
    const noTypeHttp = await inv.request('POST', '/http/js-hello/x', Buffer.from('{"a":'.repeat(5000)));
    expect(noTypeHttp.status).toBe(400);
    // As plain text it is not parsed: the handler gets the text.
    const text = await inv.request('POST', '/invoke/ts-echo', '['.repeat(5000), { 'content-type': 'text/plain' });
    expect(text).toMatchObject({ status: 200, json: { echoed: '['.repeat(5000) } });
    const ok = await inv.request('POST', '/invoke/ts-echo', JSON.stringify({ data: [[[1]]] }), JSON_HEADERS);
    expect(ok).toMatchObject({ status: 200, json: { echoed: [[[1]]] } });
  });

  it('answers 400 for a NUL byte or invalid UTF-8 in a JSON body or in the function name', async () => {
    const nul = await inv.request('POST', '/invoke/ts-echo', '{"data":"a\u0000b"}', JSON_HEADERS);
    expect(nul.status).toBe(400);
    expect(nul.json.message).toContain('NUL');
    const escaped = await inv.request('POST', '/invoke/ts-echo', '{"data":"a\\u0000b"}', JSON_HEADERS);
    expect(escaped).toMatchObject({ status: 200, json: { echoed: 'a\u0000b' } });
    const latin1 = await inv.request('POST', '/http/js-hello/', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), JSON_HEADERS);
    expect(latin1.status).toBe(400);
    expect(latin1.json.message).toContain('not valid UTF-8');
    for (const name of ['%00', 'ts-echo%00', '%ff', '%c3%28']) {
      const res = await inv.request('GET', `/invoke/${name}`);
      expect({ name, status: res.status }).toEqual({ name, status: 400 });
      expect(res.json.message).toContain('is not a valid path');
    }
    expect((await inv.request('GET', '/invoke/ts-echo?a=1')).status).toBe(200);
  });

  it('answers 400 naming the limit for a deeply nested deployment body', async () => {
    const res = await inv.request('PUT', `/deployments/${randomUUID()}`, '{"spec":'.repeat(5000) + '1' + '}'.repeat(5000), JSON_HEADERS);
    expect(res.status).toBe(400);
    expect(res.json.message).toContain('deeper than 64 levels');
    const nul = await inv.request('PUT', `/deployments/${randomUUID()}`, '{"deploymentId":"\u0000"}', JSON_HEADERS);
    expect(nul.status).toBe(400);
    expect(nul.json.message).toContain('NUL');
    expect((await inv.request('GET', '/deployments')).status).toBe(200);
  });

  it('answers 413 naming the limit when a request is larger than the function accepts, and records the FAILURE', async () => {
    await inv.deploy({
      label: 'small-input',
      family: 'node',
      entrypoint: 'handler.*',
      files: { 'handler.js': 'module.exports = (d) => d;' },
      config: { resources: { maxRequestBytes: 100 } },
    });
    const res = await inv.request('POST', '/invoke/small-input', JSON.stringify({ data: 'x'.repeat(200) }), JSON_HEADERS);
    expect(res.status).toBe(413);
    expect(res.json.message).toContain('limit of 100 bytes (resources.maxRequestBytes)');
    const { result } = await inv.tap.invocation(res.headers.get('x-invocation-id')!);
    expect(result).toMatchObject({ status: 'FAILURE', metadata: { reason: 'payload-too-large' } });
  });

  it('records a FAILURE naming the limit when a response is larger than the function may return', async () => {
    await inv.deploy({
      label: 'big-output',
      family: 'python',
      entrypoint: 'handler.main',
      files: { 'handler.py': "def main(request):\n    return 'y' * 5000\n" },
      config: { resources: { maxResponseBytes: 1000 } },
    });
    const res = await inv.request('GET', '/invoke/big-output');
    expect(res.status).toBe(502);
    expect(res.json.message).toContain('exceeds its limit of 1000 bytes (resources.maxResponseBytes)');
    const { result } = await inv.tap.invocation(res.headers.get('x-invocation-id')!);
    expect(result).toMatchObject({ status: 'FAILURE', metadata: { reason: 'payload-too-large' } });
  });

  it('gives a function only its own environment variables', async () => {
    await inv.deploy({
      label: 'env-reader',
      family: 'python',
      entrypoint: 'handler.handle',
      files: { 'handler.py': 'import os\n\ndef handle(request):\n    return sorted(os.environ.keys())\n' },
      config: { env: { GREETING: 'hi' } },
    });
    const res = await inv.request('GET', '/invoke/env-reader');
    expect(res.json).toContain('GREETING');
    for (const platformVar of ['AMQP_URL', 'DATABASE_URL', 'HKS_NAMESPACE', 'HKS_DATA_DIR', 'REDIS_URL']) expect(res.json).not.toContain(platformVar);
  });

  it('answers 404 for a function that does not exist and 409 for one that is not deployed', async () => {
    const missing = await inv.request('GET', `/invoke/${randomUUID()}`);
    expect(missing.status).toBe(404);
    expect(missing.json.message).toMatch(/no function has the id or label/);
    inv.directory.functions.set('f-undeployed', { id: randomUUID(), label: 'undeployed' });
    const undeployed = await inv.request('GET', '/invoke/undeployed');
    expect(undeployed.status).toBe(409);
    expect(undeployed.json.message).toMatch(/function undeployed is not deployed/);
  });

  it('rejects a deployment whose spec is incomplete with a 400 that names each problem', async () => {
    const res = await inv.request('PUT', `/deployments/${randomUUID()}`, JSON.stringify({ spec: { family: 'ruby' } }), JSON_HEADERS);
    expect(res.status).toBe(400);
    expect(res.json.message).toContain('deploymentId must be a non-empty string');
    expect(res.json.message).toContain('spec.family must be one of "node", "python"');
    expect(res.json.message).toContain('spec.bundleDigest must be a sha256 digest');
  });

  it('refuses to deploy a function whose handler cannot be loaded, saying why', async () => {
    await expect(
      inv.deploy({
        label: 'no-handler',
        family: 'node',
        entrypoint: 'handler.handle',
        files: { 'handler.js': 'module.exports.other = () => 1;' },
        config: { scaling: { minInstances: 1 } },
      }),
    ).rejects.toThrow(/422.*does not export a function named \\"handle\\"; it exports other/);
  });

  it('answers 500 saying why when a function cannot be loaded on its first request, and fails fast after that', async () => {
    await inv.deploy({ label: 'broken-py', family: 'python', entrypoint: 'handler.handle', files: { 'handler.py': 'def handle(request:\n    return 1\n' } });
    const first = await inv.request('GET', '/invoke/broken-py');
    expect(first.status).toBe(500);
    expect(first.json.message).toMatch(/function broken-py could not be loaded: loading handler.py failed: SyntaxError/);
    expect((await inv.tap.invocation(first.headers.get('x-invocation-id')!)).result).toMatchObject({
      status: 'FAILURE',
      metadata: { reason: 'error', coldStart: true },
    });
    const again = await inv.request('GET', '/invoke/broken-py');
    expect(again.status).toBe(500);
    expect(again.json.message).toBe(first.json.message);
  });
});
