import { FakeGateway, hks } from '../../test/fake-gateway';

const ID = '4b0c2f5e-8d1a-4c3e-9f7a-2d6b8e1c0a93';
const FN = '11111111-2222-4333-8444-555555555555';

function view(over: Record<string, unknown> = {}) {
  return {
    id: ID,
    functionId: FN,
    label: 'hello',
    async: true,
    status: 'dead',
    source: 'api',
    version: 3,
    maxAttempts: 3,
    attempts: [1, 2, 3].map((n) => ({
      number: n,
      outcome: '5xx',
      startedAt: '2026-01-31T12:00:0' + n + 'Z',
      endedAt: '2026-01-31T12:00:0' + n + 'Z',
      durationMs: 12.4,
      statusCode: 500,
      error: 'boom',
      logs: null,
    })),
    result: { statusCode: 500, headers: {}, body: 'boom', isBase64Encoded: false },
    error: 'every attempt failed: boom',
    nextAttemptAt: null,
    acceptedAt: '2026-01-31T12:00:00Z',
    finishedAt: '2026-01-31T12:00:04Z',
    callback: null,
    idempotencyKey: null,
    replayOf: null,
    request: { style: 'data', method: 'POST', path: '/', query: '', headers: {}, body: '' },
    ...over,
  };
}

describe('hks invocations (against a fake gateway)', () => {
  const gw = new FakeGateway();
  beforeAll(() => gw.start());
  afterAll(() => gw.stop());
  beforeEach(() => {
    gw.reset();
    gw.on('GET', '/api/v1/functions/:name', (_req, [name]) =>
      name === 'hello'
        ? { body: { id: FN, label: 'hello' } }
        : { status: 404, body: { statusCode: 404, error: 'Not Found', message: `function ${name} does not exist` } },
    );
  });
  const run = (...args: string[]) => hks(['invocations', ...args], { gateway: gw.url });

  it('lists invocations as a table, resolving --function to its id, with the cursor of the next page', async () => {
    gw.on('GET', '/api/v1/invocations', () => ({ body: { items: [view()], next: 'abc' } }));
    const r = await run('list', '--function', 'hello', '--status', 'dead', '--limit', '10');
    expect(r.code).toBe(0);
    const [head, row] = r.stdout.split('\n');
    expect(head).toBe('ID                                    FUNCTION  STATUS  ATTEMPTS  SOURCE  ACCEPTED             ERROR');
    expect(row).toMatch(new RegExp(`^${ID} {2}hello {5}dead {4}3/3 {7}api {5}\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d {2}every attempt failed: boom$`));
    expect(r.stderr).toBe('more: --before abc\n');
    expect(gw.requests[1]).toMatchObject({ path: '/api/v1/invocations', query: { functionId: FN, status: 'dead', limit: '10' } });
  });

  it('refuses a bad --status or --limit before asking, and says when nothing matches', async () => {
    expect((await run('list', '--status', 'lost')).code).toBe(2);
    expect(await run('list', '--limit', '0')).toMatchObject({ code: 2, stderr: 'error: --limit 0 is not a whole number from 1 to 500\n' });
    expect(gw.requests).toHaveLength(0);
    gw.on('GET', '/api/v1/invocations', () => ({ body: { items: [], next: null } }));
    expect(await run('list')).toEqual({ code: 0, stdout: '', stderr: 'no asynchronous invocations match\n' });
  });

  it('shows one invocation with its attempts; JSON with -o json; a clear message when it does not exist', async () => {
    gw.on('GET', '/api/v1/invocations/:id', (_req, [id]) =>
      id === ID ? { body: view() } : { status: 404, body: { statusCode: 404, error: 'Not Found', message: 'no such invocation' } },
    );
    const r = await run('get', ID);
    expect(r.code).toBe(0);
    expect(r.stdout.startsWith(`Id:       ${ID}\nFunction: hello (${FN})\nStatus:   dead\n`)).toBe(true);
    expect(r.stdout).toContain('Attempts: 3/3\n');
    expect(r.stdout).toContain('Result:   HTTP 500\nError:    every attempt failed: boom\n');
    expect(r.stdout).toMatch(/\nATTEMPT {2}OUTCOME {2}STATUS {2}STARTED {14}DURATION {2}ERROR\n1 {8}5xx {6}500 {5}\d{4}-/);
    expect(JSON.parse((await run('get', ID, '-o', 'json')).stdout)).toMatchObject({ id: ID, status: 'dead' });
    const other = '0f9a3c52-6b1e-4d7a-9c2e-5a8b7d6e4f31';
    expect(await run('get', other)).toEqual({ code: 1, stdout: '', stderr: `error: invocation ${other} does not exist (hks invocations list shows them)\n` });
    expect(await run('get', 'nope')).toMatchObject({
      code: 2,
      stderr: 'error: "nope" is not an invocation id (a UUID, as x-invocation-id and hks invocations list show them)\n',
    });
  });

  it("cancels a queued invocation, and passes on the platform's 409 for one that runs", async () => {
    gw.on('POST', '/api/v1/invocations/:id/cancel', () => ({ body: view({ status: 'cancelled' }) }));
    expect(await run('cancel', ID)).toEqual({ code: 0, stdout: `cancelled ${ID} (hello)\n`, stderr: '' });
    gw.on('POST', '/api/v1/invocations/:id/cancel', () => ({
      status: 409,
      body: { statusCode: 409, error: 'Conflict', message: `invocation ${ID} is running: only a queued invocation can be cancelled` },
    }));
    expect(await run('cancel', ID)).toEqual({ code: 1, stdout: '', stderr: `error: invocation ${ID} is running: only a queued invocation can be cancelled\n` });
  });

  it('redrives one dead letter, or all of them (of a function)', async () => {
    gw.on('POST', '/api/v1/invocations/:id/redrive', () => ({ body: view({ status: 'queued', attempts: [] }) }));
    expect(await run('redrive', ID)).toEqual({ code: 0, stdout: `queued ${ID} (hello) again: 3 attempts\n`, stderr: '' });
    gw.on('POST', '/api/v1/invocations/redrive', () => ({ body: { redriven: 1, ids: [ID] } }));
    expect(await run('redrive', '--all', '--function', 'hello')).toEqual({ code: 0, stdout: `${ID}\n`, stderr: 'queued 1 dead letter again\n' });
    expect(gw.requests[gw.requests.length - 1]).toMatchObject({ method: 'POST', path: '/api/v1/invocations/redrive', body: { functionId: FN } });
    await run('redrive', '--all');
    expect(gw.requests[gw.requests.length - 1].body).toEqual({});
  });

  it('refuses redrive without an id or --all, with both, and --function without --all', async () => {
    expect((await run('redrive')).stderr).toBe('error: give the invocation id to redrive, or --all for every dead letter\n');
    expect((await run('redrive', ID, '--all')).stderr).toBe('error: give an invocation id or --all, not both\n');
    expect((await run('redrive', ID, '--function', 'hello')).stderr).toBe('error: --function goes with --all: hks invocations redrive --all --function NAME\n');
    expect(gw.requests).toHaveLength(0);
  });

  it('replays an invocation, on the original version with --original', async () => {
    const next = '0f9a3c52-6b1e-4d7a-9c2e-5a8b7d6e4f31';
    gw.on('POST', '/api/v1/invocations/:id/replay', () => ({
      status: 202,
      body: { invocationId: next, functionId: FN, status: 'queued', statusUrl: `/api/v1/invocations/${next}`, duplicate: false },
    }));
    const r = await run('replay', ID, '--original');
    expect(r).toEqual({ code: 0, stdout: `${next}\n`, stderr: `replaying ${ID} as ${next}; follow it with: hks invocations get ${next}\n` });
    expect(gw.requests[0]).toMatchObject({ path: `/api/v1/invocations/${ID}/replay`, body: { version: 'original' } });
    await run('replay', ID);
    expect(gw.requests[1].body).toEqual({});
  });

  it('prints the callback key as PEM', async () => {
    const pem = '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n';
    gw.on('GET', '/api/v1/invocations/callback-key', () => ({ body: { algorithm: 'ed25519', publicKey: 'AAAA', publicKeyPem: pem, scheme: 'v1a' } }));
    expect(await run('callback-key')).toEqual({ code: 0, stdout: pem, stderr: 'ed25519; v1a\n' });
  });
});
