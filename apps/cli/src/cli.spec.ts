import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import { FakeGateway, hks } from '../test/fake-gateway';

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('hks', () => {
  it('prints help with exit code 0, for the tool and for every command', async () => {
    const top = await hks(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toContain('Usage: hks [options] [command]');
    for (const cmd of ['deploy', 'invoke', 'test', 'logs', 'stats', 'metrics', 'list', 'describe', 'delete', 'undeploy']) {
      const r = await hks(['function', cmd, '--help']);
      expect([cmd, r.code]).toEqual([cmd, 0]);
      expect(r.stdout).toContain(`Usage: hks function ${cmd}`);
    }
  });

  it('exits 2 on bad usage, with one error line', async () => {
    expect(await hks(['function', 'frobnicate'])).toMatchObject({ code: 2, stderr: expect.stringMatching(/^error: unknown command 'frobnicate'/) });
    expect(await hks(['function', 'invoke'])).toMatchObject({ code: 2, stderr: "error: missing required argument 'name'\n" });
    expect(await hks(['function', 'list', '--output', 'xml'])).toMatchObject({ code: 2, stderr: expect.stringContaining("argument 'xml' is invalid") });
    expect(await hks(['function', 'list', '--gateway', 'ftp://x'])).toMatchObject({
      code: 2,
      stderr: 'error: gateway URL "ftp://x" (from --gateway) must start with http:// or https://\n',
    });
  });

  it('says it cannot reach the gateway, naming its URL and why', async () => {
    const port = await closedPort();
    const r = await hks(['function', 'list', '--gateway', `http://127.0.0.1:${port}`]);
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: cannot reach the gateway at http://127.0.0.1:${port}: connection refused\n` });
  });

  describe('settings', () => {
    const gw = new FakeGateway();
    let dir: string;
    beforeAll(async () => {
      await gw.start();
      gw.on('GET', '/api/v1/functions', () => ({ body: { items: [] } }));
      dir = mkdtempSync(path.join(tmpdir(), 'hks-config-'));
    });
    afterAll(async () => {
      await gw.stop();
      rmSync(dir, { recursive: true, force: true });
    });
    beforeEach(() => (gw.requests.length = 0));

    it('reads gateway and apiKey from the config file and sends the key as a Bearer token', async () => {
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, `gateway: ${gw.url}\napiKey: file-key\n`);
      const r = await hks(['function', 'list'], { env: { HKS_CONFIG: file } });
      expect(r.code).toBe(0);
      expect(gw.requests[0].headers.authorization).toBe('Bearer file-key');
    });

    it('lets the environment override the file, and flags override both', async () => {
      const file = path.join(dir, 'config.yaml');
      writeFileSync(file, `gateway: http://127.0.0.1:${await closedPort()}\napiKey: file-key\n`);
      await hks(['function', 'list'], { env: { HKS_CONFIG: file, HKS_GATEWAY_URL: gw.url, HKS_API_KEY: 'env-key' } });
      expect(gw.requests[0].headers.authorization).toBe('Bearer env-key');
      await hks(['function', 'list', '--api-key', 'flag-key'], {
        env: { HKS_CONFIG: file, HKS_GATEWAY_URL: 'http://127.0.0.1:1', HKS_API_KEY: 'env-key' },
        gateway: gw.url,
      });
      expect(gw.requests[1].headers.authorization).toBe('Bearer flag-key');
    });

    it('sends no Authorization header without a key', async () => {
      await hks(['function', 'list'], { gateway: gw.url });
      expect(gw.requests[0].headers.authorization).toBeUndefined();
    });

    it('names a wrong config file', async () => {
      const file = path.join(dir, 'bad.yaml');
      writeFileSync(file, 'gatway: http://x\n');
      expect(await hks(['function', 'list'], { env: { HKS_CONFIG: file } })).toMatchObject({
        code: 2,
        stderr: `error: ${file}: unknown key "gatway" (known: gateway, apiKey)\n`,
      });
    });

    it('adds how to set a key when the gateway answers 401', async () => {
      gw.on('GET', '/api/v1/functions', () => ({ status: 401, body: { statusCode: 401, error: 'Unauthorized', message: 'a valid API key is required' } }));
      const r = await hks(['function', 'list'], { gateway: gw.url });
      expect(r).toEqual({
        code: 1,
        stdout: '',
        stderr: 'error: a valid API key is required (set an API key with --api-key, HKS_API_KEY or apiKey in the config file)\n',
      });
    });
  });
});
