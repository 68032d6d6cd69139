import type { INestApplication } from '@nestjs/common';
import { createServer, IncomingMessage, Server, ServerResponse } from 'http';
import type { AddressInfo } from 'net';
import { mountInvocations } from './mount';

/** The request listener mountInvocations installs, in front of a stand-in Nest whose handler throws on /boom. */
describe('mountInvocations', () => {
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer();
    server.on('request', (req: IncomingMessage, res: ServerResponse) => {
      if (req.url === '/boom') throw new RangeError('Maximum call stack size exceeded');
      res.end('nest');
    });
    const invoke = {
      attach: () => undefined,
      handle: (req: IncomingMessage) => {
        if (req.url === '/invoke/boom') throw new TypeError('cannot read properties of undefined');
        return false;
      },
    };
    const app = { useBodyParser: () => undefined, getHttpServer: () => server, get: () => invoke } as unknown as INestApplication;
    mountInvocations(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('answers 500 to a request whose handling throws, and goes on serving the others', async () => {
    for (const path of ['/invoke/boom', '/boom']) {
      const res = await fetch(url + path);
      expect(res.status).toBe(500);
      expect(await res.json()).toMatchObject({ statusCode: 500, message: expect.stringContaining('Internal error while handling this request') });
    }
    const ok = await fetch(`${url}/healthz`);
    expect(await ok.text()).toBe('nest');
  });
});
