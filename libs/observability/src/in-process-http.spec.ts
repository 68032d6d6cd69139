import { createServer, Server } from 'http';
import { InProcessHttp, RequestHandler } from './in-process-http';

const listen = (server: Server): Promise<number> =>
  new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)));

describe('InProcessHttp', () => {
  it('finds the handler a server of this process offers, by loopback URL and port, until the server closes', async () => {
    const server = createServer();
    const handler: RequestHandler = (_req, res) => res.end('in process');
    InProcessHttp.offer(server, handler);
    const port = await listen(server);
    expect(InProcessHttp.find(new URL(`http://127.0.0.1:${port}`))).toBe(handler);
    expect(InProcessHttp.find(new URL(`http://localhost:${port}/`))).toBe(handler);
    expect(InProcessHttp.find(new URL(`http://[::1]:${port}`))).toBe(handler);
    // Another host, a path prefix (a proxy in between) or https: not this process's server.
    expect(InProcessHttp.find(new URL(`http://10.0.0.1:${port}`))).toBeUndefined();
    expect(InProcessHttp.find(new URL(`http://127.0.0.1:${port}/invoker`))).toBeUndefined();
    expect(InProcessHttp.find(new URL(`https://127.0.0.1:${port}`))).toBeUndefined();
    expect(InProcessHttp.find(new URL(`http://127.0.0.1:${port === 65535 ? 1 : port + 1}`))).toBeUndefined();
    await new Promise((r) => server.close(r));
    expect(InProcessHttp.find(new URL(`http://127.0.0.1:${port}`))).toBeUndefined();
  });

  it('registers a server that already listens', async () => {
    const server = createServer();
    const port = await listen(server);
    const handler: RequestHandler = (_req, res) => res.end();
    InProcessHttp.offer(server, handler);
    expect(InProcessHttp.find(new URL(`http://127.0.0.1:${port}`))).toBe(handler);
    await new Promise((r) => server.close(r));
  });

  it('does not offer a server that 127.0.0.1 does not reach (one on 127.0.0.2)', async () => {
    const server = createServer();
    InProcessHttp.offer(server, (_req, res) => res.end());
    const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.2', () => resolve((server.address() as { port: number }).port)));
    expect(InProcessHttp.find(new URL(`http://127.0.0.1:${port}`))).toBeUndefined();
    await new Promise((r) => server.close(r));
  });
});
