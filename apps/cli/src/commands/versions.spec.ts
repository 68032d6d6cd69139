import { FakeGateway, hks } from '../../test/fake-gateway';

const FN = '6f1c2a4e-0b7d-4e8a-9c3f-1a2b3c4d5e6f';

describe('hks function rollback, versions, traffic (against a fake gateway)', () => {
  const gw = new FakeGateway();
  beforeAll(() => gw.start());
  afterAll(() => gw.stop());
  beforeEach(() => {
    gw.reset();
    gw.on('GET', '/api/v1/functions/:name', (_req, [name]) =>
      name === 'shop' || name === FN
        ? { body: { id: FN, label: 'shop', version: 3 } }
        : { status: 404, body: { statusCode: 404, error: 'Not Found', message: `function "${name}" does not exist` } },
    );
  });
  const run = (...args: string[]) => hks(['function', ...args], { gateway: gw.url });
  const traffic = {
    functionId: FN,
    label: 'shop',
    version: 2,
    aliases: { latest: 2, stable: 1 },
    splits: [{ version: 2, percent: 100 }],
    sticky: false,
    versions: [1, 2],
    canary: null,
    revision: 3,
  };

  it('rolls back in one call, to the previous version or the one --to names', async () => {
    gw.on('POST', '/api/v1/functions/:id/rollback', (req) => ({
      body: { id: 'd', label: 'shop', version: (req.body as { to?: number }).to ?? 1, status: 'READY' },
    }));
    const r = await run('rollback', 'shop');
    expect(r).toEqual({ code: 0, stdout: 'shop rolled back: version 1 serves (ready)\n', stderr: '' });
    expect(gw.requests.at(-1)).toMatchObject({ method: 'POST', path: `/api/v1/functions/${FN}/rollback`, body: {} });
    expect((await run('rollback', 'shop', '--to', '2')).stdout).toBe('shop rolled back: version 2 serves (ready)\n');
    expect(gw.requests.at(-1)!.body).toEqual({ to: 2 });
    expect((await run('rollback', 'shop', '--to', 'two')).code).toBe(2);
  });

  it('says what the platform says when there is nothing to roll back to', async () => {
    gw.on('POST', '/api/v1/functions/:id/rollback', () => ({
      status: 409,
      body: { statusCode: 409, error: 'Conflict', message: 'function shop has served only version 1; there is no earlier version to roll back to' },
    }));
    const r = await run('rollback', 'shop');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('error: function shop has served only version 1; there is no earlier version to roll back to\n');
  });

  it('lists versions with their build, share of traffic and aliases', async () => {
    gw.on('GET', '/api/v1/functions/:id/versions', () => ({
      body: [
        { version: 2, buildStatus: 'SUCCEEDED', bundleDigest: `sha256:${'b'.repeat(64)}`, createdAt: '2026-12-03T12:00:00Z' },
        { version: 1, buildStatus: 'SUCCEEDED', bundleDigest: `sha256:${'a'.repeat(64)}`, createdAt: '2026-12-03T11:00:00Z' },
      ],
    }));
    gw.on('GET', '/api/v1/functions/:id/traffic', () => ({ body: traffic }));
    const r = await run('versions', 'shop');
    expect(r.code).toBe(0);
    const [head, v2, v1] = r.stdout.split('\n');
    expect(head).toMatch(/^VERSION +BUILD +TRAFFIC +ALIASES +BUNDLE +CREATED$/);
    expect(v2).toMatch(/^2 +SUCCEEDED +100% +latest +sha256:bbbbbbbbbbbb /);
    expect(v1).toMatch(/^1 +SUCCEEDED +- +stable +sha256:aaaaaaaaaaaa /);
  });

  it('sets a split and starts a canary', async () => {
    gw.on('PUT', '/api/v1/functions/:id/traffic', (req) => ({
      body: {
        ...traffic,
        splits: (req.body as { splits?: unknown }).splits ?? [
          { version: 2, percent: 90 },
          { version: 3, percent: 10 },
        ],
        sticky: true,
      },
    }));
    const r = await run('traffic', 'shop', '--split', '1=90,2=10', '--sticky');
    expect(r.stdout).toBe('shop: v1 90%, v2 10% (sticky)\n');
    expect(gw.requests.at(-1)!.body).toEqual({
      splits: [
        { version: 1, percent: 90 },
        { version: 2, percent: 10 },
      ],
      sticky: true,
    });
    await run('traffic', 'shop', '--canary', '3', '--steps', '10,50,100', '--interval', '30', '--max-error-rate', '0.05');
    expect(gw.requests.at(-1)!.body).toEqual({ canary: { version: 3, steps: [10, 50, 100], intervalSeconds: 30, maxErrorRate: 0.05 } });
    expect((await run('traffic', 'shop', '--split', '1-90')).code).toBe(2);
  });
});
