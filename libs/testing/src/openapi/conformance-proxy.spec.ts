import { createHash } from 'crypto';
import * as http from 'http';
import type { AddressInfo } from 'net';
import { ConformanceProxy } from './conformance-proxy';
import { OpenApiDocument } from './openapi-document';

const json = (schema: unknown) => ({ description: '', content: { 'application/json': { schema } } });
const ERROR = { $ref: '#/components/schemas/ErrorBody' };

const DOC: OpenApiDocument = {
  openapi: '3.0.0',
  paths: {
    '/things/{id}': { get: { responses: { 200: json({ $ref: '#/components/schemas/Thing' }), 404: json(ERROR) } } },
    '/things/special': { get: { responses: { 200: json({ type: 'string' }) } } },
    '/stream': { get: { responses: { 200: { description: '', content: { 'text/event-stream': {} } } } } },
    '/big': { get: { responses: { 200: { description: '', content: { 'application/octet-stream': {} } } } } },
    '/fn/{label}': { post: { responses: { 200: { description: '', content: { '*/*': {} } }, 400: json(ERROR) } } },
  },
  components: {
    schemas: {
      Thing: {
        type: 'object',
        properties: {
          id: { type: 'string', example: 'a' },
          size: { type: 'number', nullable: true },
          owner: { nullable: true, allOf: [{ $ref: '#/components/schemas/Owner' }] },
        },
        required: ['id', 'size'],
      },
      Owner: { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      ErrorBody: {
        type: 'object',
        properties: { statusCode: { type: 'number' }, error: { type: 'string' }, message: { type: 'string' } },
        required: ['statusCode', 'error', 'message'],
      },
    },
  },
};

const BIG = Buffer.alloc(5 * 1024 * 1024, 7);
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A stand-in gateway with one behaviour per path. */
function fakeGateway(streamClosed: () => void): http.Server {
  return http.createServer((req, res) => {
    const send = (status: number, type: string, body: string | Buffer) => res.writeHead(status, { 'content-type': type }).end(body);
    const path = req.url?.split('?')[0];
    if (path === '/things/good') return send(200, 'application/json; charset=utf-8', JSON.stringify({ id: 'a', size: null, owner: null }));
    if (path === '/things/bad') return send(200, 'application/json', JSON.stringify({ id: 1, owner: {} }));
    if (path === '/things/deep') return send(200, 'application/json', JSON.stringify({ id: 'a', size: 1, owner: { name: 2 } }));
    if (path === '/things/not-nullable') return send(200, 'application/json', JSON.stringify({ id: 'a', size: 'big' }));
    if (path === '/things/teapot') return send(418, 'application/json', '{}');
    if (path === '/things/special') return send(200, 'application/json', '"special"');
    if (path === '/nowhere') return send(404, 'application/json', JSON.stringify({ statusCode: 404, error: 'Not Found', message: 'no route' }));
    if (path === '/nowhere-html') return send(404, 'text/html', '<h1>Not Found</h1>');
    if (path === '/healthz') return send(200, 'text/plain', 'ok');
    if (path === '/things/docs') return send(200, 'text/html', '<h1>docs</h1>');
    if (path === '/big') return send(200, 'application/octet-stream', BIG);
    if (path === '/cut') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': '1000' });
      res.write(Buffer.alloc(10));
      return void setTimeout(() => res.destroy(), 50);
    }
    if (path === '/stream') {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      const tick = setInterval(() => res.write('data: tick\n\n'), 50);
      return void res.on('close', () => {
        clearInterval(tick);
        streamClosed();
      });
    }
    if (path?.startsWith('/fn/echo/')) {
      res.writeHead(200, { 'content-type': req.headers['content-type'] ?? 'application/octet-stream', 'x-path': req.url ?? '' });
      return void req.pipe(res);
    }
    send(500, 'text/plain', 'unexpected');
  });
}

describe('ConformanceProxy: every answer checked against the OpenAPI document, passed on unchanged', () => {
  let gateway: http.Server;
  let proxy: ConformanceProxy;
  let streamClosed: Promise<void>;

  beforeEach(async () => {
    let closed!: () => void;
    streamClosed = new Promise((resolve) => (closed = resolve));
    gateway = fakeGateway(closed);
    await new Promise<void>((resolve) => gateway.listen(0, '127.0.0.1', resolve));
    const target = `http://127.0.0.1:${(gateway.address() as AddressInfo).port}`;
    proxy = await ConformanceProxy.start({
      target,
      document: DOC,
      maxBodyBytes: 1024 * 1024,
      prefixRoutes: ['/fn/{label}'],
      outsideTheApi: (p) => p === '/healthz' || p === '/things/docs',
    });
  });

  afterEach(async () => {
    await proxy.close();
    if (!gateway.listening) return;
    gateway.closeAllConnections();
    await new Promise((resolve) => gateway.close(resolve));
  });

  it('passes conforming answers through byte for byte, large and binary ones and sub-paths of prefix routes included', async () => {
    const good = await fetch(`${proxy.url}/things/good`);
    expect(await good.json()).toEqual({ id: 'a', size: null, owner: null });
    expect(await (await fetch(`${proxy.url}/things/special`)).json()).toBe('special');
    const big = Buffer.from(await (await fetch(`${proxy.url}/big`)).arrayBuffer());
    expect(sha(big)).toBe(sha(BIG));
    const upload = Buffer.alloc(3 * 1024 * 1024, 1);
    const echoed = await fetch(`${proxy.url}/fn/echo/a/b?x=1`, { method: 'POST', body: upload, headers: { 'content-type': 'application/octet-stream' } });
    expect(echoed.headers.get('x-path')).toBe('/fn/echo/a/b?x=1');
    expect(sha(Buffer.from(await echoed.arrayBuffer()))).toBe(sha(upload));

    expect(proxy.mismatches()).toEqual([]);
    expect(proxy.summary()).toMatchObject({
      checked: 4,
      statusAndTypeOnly: 2,
      mismatches: 0,
      byOperation: {
        'GET /things/{id}': { checked: 1, mismatches: 0 },
        'GET /things/special': { checked: 1, mismatches: 0 },
        'POST /fn/{label}': { checked: 1, mismatches: 0 },
      },
    });
  });

  it('records a body that does not match its schema, with what differs and an excerpt of the body', async () => {
    await (await fetch(`${proxy.url}/things/bad`)).text();
    const [m] = proxy.mismatches();
    expect(m).toMatchObject({
      method: 'GET',
      path: '/things/bad',
      operation: 'GET /things/{id}',
      status: 200,
      contentType: 'application/json',
      body: '{"id":1,"owner":{}}',
    });
    expect(m.problems).toEqual([
      "body vs Thing: (the body) must have required property 'size'",
      'body vs Thing: /id must be string',
      "body vs Thing: /owner must have required property 'name'",
    ]);
    expect(proxy.report()).toContain('1 differ from the document');
  });

  it('reads nullable as "or null", and says so once', async () => {
    await (await fetch(`${proxy.url}/things/not-nullable`)).text();
    expect(proxy.mismatches().map((m) => m.problems)).toEqual([['body vs Thing: /size must be number or null']]);
  });

  it('blames the field inside a nullable object, not the object for not being null', async () => {
    await (await fetch(`${proxy.url}/things/deep`)).text();
    expect(proxy.mismatches().map((m) => m.problems)).toEqual([['body vs Thing: /owner/name must be string']]);
  });

  it('records a status the operation does not declare', async () => {
    expect((await fetch(`${proxy.url}/things/teapot`)).status).toBe(418);
    expect(proxy.mismatches().map((m) => m.problems)).toEqual([['status 418 is not declared (declared: 200, 404)']]);
  });

  it('wants the error shape of the document for paths and methods it does not describe', async () => {
    await (await fetch(`${proxy.url}/nowhere`)).text();
    await (await fetch(`${proxy.url}/nowhere-html`)).text();
    await (await fetch(`${proxy.url}/things/good`, { method: 'DELETE' })).text();
    await (await fetch(`${proxy.url}/healthz`)).text();
    // Served before the routes, so /things/{id} does not own it.
    await (await fetch(`${proxy.url}/things/docs`)).text();
    expect(proxy.mismatches().map((m) => [m.operation, m.problems])).toEqual([
      ['(path not in the document)', ['content type text/html where the error shape declares application/json']],
      ['DELETE /things/{id} (method not declared)', ['answered 200 where the document declares only GET for /things/{id} (only an error may answer)']],
    ]);
    expect(proxy.summary()).toMatchObject({ checked: 3, outsideTheApi: 2 });
  });

  it('checks a stream by its status and type at once, and ends it at the gateway when the client goes away', async () => {
    const controller = new AbortController();
    const res = await fetch(`${proxy.url}/stream`, { signal: controller.signal });
    const reader = res.body!.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toContain('data: one');
    expect(proxy.summary()).toMatchObject({ checked: 1, statusAndTypeOnly: 1, mismatches: 0 });
    controller.abort();
    await streamClosed;
  });

  it("ends the client's idle connection when the gateway ends its own", async () => {
    const agent = new http.Agent({ keepAlive: true });
    const socket = await new Promise<import('net').Socket>((resolve, reject) => {
      const req = http.get(`${proxy.url}/things/good`, { agent }, (res) => {
        res.resume();
        res.on('end', () => resolve(req.socket!));
      });
      req.on('error', reject);
    });
    const closed = new Promise((resolve) => socket.once('close', resolve));
    await new Promise((resolve) => setTimeout(resolve, 20));
    gateway.closeIdleConnections();
    await closed;
    agent.destroy();
  });

  it('behaves like a dead gateway when the gateway is gone, and passes a cut-off answer on cut off', async () => {
    const cut = await fetch(`${proxy.url}/cut`);
    await expect(cut.arrayBuffer()).rejects.toThrow();
    expect(proxy.summary()).toMatchObject({ checked: 0, cutOff: 1 });

    gateway.closeAllConnections();
    await new Promise((resolve) => gateway.close(resolve));
    await expect(fetch(`${proxy.url}/things/good`)).rejects.toThrow('fetch failed');
  });
});
