import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { FakeGateway, hks } from '../../test/fake-gateway';

const KEY = {
  id: '3f1c0d6e-8a4b-4c1e-9f00-1a2b3c4d5e6f',
  name: 'ci',
  prefix: 'hks_AbCdEfGh',
  scope: 'invoke',
  functions: ['0b6f3c3e-1111-4222-8333-444455556666'],
  createdAt: '2026-01-02T03:04:05.000Z',
  revokedAt: null,
};

describe('hks keys (against a fake gateway)', () => {
  const gw = new FakeGateway();
  beforeAll(() => gw.start());
  afterAll(() => gw.stop());
  beforeEach(() => gw.reset());

  it('creates an invoke key for the functions named and prints the key alone on stdout', async () => {
    gw.on('POST', '/api/v1/keys', (req) => ({ status: 201, body: { ...KEY, ...(req.body as object), key: 'hks_AbCdEfGhsecret' } }));
    const r = await hks(['keys', 'create', 'ci', '--function', 'hello-world', '--function', 'other'], { gateway: gw.url });
    expect(r).toEqual({ code: 0, stdout: 'hks_AbCdEfGhsecret\n', stderr: `created invoke key "ci" (id ${KEY.id}); it is shown only this once\n` });
    expect(gw.requests[0].body).toEqual({ name: 'ci', scope: 'invoke', functions: ['hello-world', 'other'] });
  });

  it('creates an admin key by default', async () => {
    gw.on('POST', '/api/v1/keys', (req) => ({ status: 201, body: { ...KEY, ...(req.body as object), functions: [], key: 'hks_x' } }));
    const r = await hks(['keys', 'create', 'ops', '-o', 'json'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'ops', scope: 'admin', key: 'hks_x' });
    expect(gw.requests[0].body).toEqual({ name: 'ops', scope: 'admin' });
  });

  it('refuses an invoke key without functions, and an admin key with some, before asking the gateway', async () => {
    expect(await hks(['keys', 'create', 'ci', '--scope', 'invoke'], { gateway: gw.url })).toEqual({
      code: 2,
      stdout: '',
      stderr: 'error: an invoke key needs --function NAME (repeat for several)\n',
    });
    expect((await hks(['keys', 'create', 'ci', '--scope', 'admin', '--function', 'f'], { gateway: gw.url })).code).toBe(2);
    expect(gw.requests).toHaveLength(0);
  });

  it('lists keys as a table, never with the key', async () => {
    gw.on('GET', '/api/v1/keys', () => ({
      body: [KEY, { ...KEY, id: 'a1', name: 'admin', scope: 'admin', functions: [], revokedAt: '2026-01-03T00:00:00.000Z' }],
    }));
    const r = await hks(['keys', 'list'], { gateway: gw.url });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+PREFIX\s+SCOPE\s+FUNCTIONS\s+CREATED\s+REVOKED$/);
    expect(lines[1]).toMatch(new RegExp(`^${KEY.id}\\s+ci\\s+hks_AbCdEfGh\\s+invoke\\s+${KEY.functions[0]}\\s+\\d{4}-\\d\\d-\\d\\d .*\\s+-$`));
    expect(lines[2]).toMatch(/^a1\s+admin\s+hks_AbCdEfGh\s+admin\s+-\s+/);
  });

  it('revokes a key, and says so plainly when it does not exist', async () => {
    // The route added last is tried first.
    gw.on('DELETE', '/api/v1/keys/:id', () => ({ status: 404, body: { statusCode: 404, error: 'Not Found', message: 'API key x does not exist' } }));
    gw.on('DELETE', `/api/v1/keys/${KEY.id}`, () => ({ body: { ...KEY, revokedAt: '2026-01-03T00:00:00.000Z' } }));
    expect(await hks(['keys', 'revoke', KEY.id], { gateway: gw.url })).toEqual({ code: 0, stdout: 'revoked ci (hks_AbCdEfGh...)\n', stderr: '' });
    const r = await hks(['keys', 'revoke', '00000000-0000-4000-8000-000000000000'], { gateway: gw.url });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: API key 00000000-0000-4000-8000-000000000000 does not exist (hks keys list shows the keys)\n' });
  });
});

describe('hks login', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hks-login-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the key and gateway to the config file, readable by its owner only, and hks then sends the key', async () => {
    const file = path.join(dir, 'sub', 'config.yaml');
    const gw = new FakeGateway();
    await gw.start();
    try {
      const r = await hks(['login', '--api-key', 'hks_saved', '--gateway', gw.url], { env: { HKS_CONFIG: file } });
      expect(r).toEqual({ code: 0, stdout: '', stderr: `saved the API key and gateway ${gw.url} in ${file}\n` });
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toBe(`gateway: ${gw.url}\napiKey: hks_saved\n`);
      gw.on('GET', '/api/v1/keys', () => ({ body: [] }));
      expect((await hks(['keys', 'list'], { env: { HKS_CONFIG: file } })).code).toBe(0);
      expect(gw.requests[0].headers.authorization).toBe('Bearer hks_saved');
    } finally {
      await gw.stop();
    }
  });

  it('keeps the gateway already saved when only a key is given', async () => {
    const file = path.join(dir, 'config.yaml');
    writeFileSync(file, 'gateway: http://10.0.0.1:8080\napiKey: old\n');
    expect((await hks(['login', '--api-key', 'new'], { env: { HKS_CONFIG: file } })).code).toBe(0);
    expect(readFileSync(file, 'utf8')).toBe('gateway: http://10.0.0.1:8080\napiKey: new\n');
  });

  it('needs a key', async () => {
    const r = await hks(['login'], { env: { HKS_CONFIG: path.join(dir, 'config.yaml') } });
    expect(r).toEqual({ code: 2, stdout: '', stderr: 'error: hks login needs the key: hks login --api-key <key> [--gateway <url>]\n' });
  });
});
