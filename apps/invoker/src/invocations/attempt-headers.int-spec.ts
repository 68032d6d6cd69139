import { randomUUID } from 'crypto';
import { InvokerHarness, startInvoker } from '../testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };

describe("invoker: an async invocation's attempt (x-hks-invocation-id, x-hks-attempt) and the failure reason it answers", () => {
  let inv: InvokerHarness;

  beforeAll(async () => {
    // 0: every invocation gets its PENDING event at once, so the attempt is seen on both events.
    inv = await startInvoker({ INVOKER_PENDING_EVENT_AFTER_MS: '0' });
    await inv.deploy({
      label: 'attempts',
      family: 'node',
      entrypoint: 'handler.handle',
      files: {
        'handler.js': [
          'module.exports.handle = async (d) => {',
          "  if (d && d.fail) throw new Error('asked to fail');",
          '  if (d && d.ms) await new Promise((r) => setTimeout(r, d.ms));',
          '  return { ok: true };',
          '};',
        ].join('\n'),
      },
      config: { resources: { timeoutMs: 1_000 } },
    });
    await inv.deploy({
      label: 'spoofer',
      family: 'node',
      entrypoint: 'handler.handle',
      files: {
        'handler.js':
          "module.exports.handle = async () => ({ statusCode: 400, headers: { 'X-Hks-Failure-Reason': 'queue-full', 'x-hks-attempt': '9', 'x-mine': 'kept' }, body: 'no' });\n",
      },
    });
    await inv.deploy({
      label: 'attempt-echo',
      family: 'node',
      entrypoint: 'handler.handle',
      files: { 'handler.js': 'module.exports.handle = async (event) => ({ statusCode: 200, body: JSON.stringify(event.headers || {}) });\n' },
    });
  }, 90_000);

  afterAll(async () => {
    await inv?.close();
  });

  it('uses the given invocation id and records the attempt number on the PENDING and the result event', async () => {
    const id = randomUUID();
    const res = await inv.request('POST', '/invoke/attempts', JSON.stringify({ data: {} }), {
      ...JSON_HEADERS,
      'x-hks-invocation-id': id,
      'x-hks-attempt': '2',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('x-invocation-id')).toBe(id);
    expect(res.headers.get('x-hks-failure-reason')).toBeNull();
    const { pending, result } = await inv.tap.invocation(id);
    expect(pending).toMatchObject({ status: 'PENDING', invocationId: id, metadata: { attempt: 2 } });
    expect(result).toMatchObject({ status: 'SUCCESS', invocationId: id, metadata: { attempt: 2, trigger: 'api' } });
  });

  it('gives a new id (and no attempt) when the given id is not a UUID', async () => {
    const res = await inv.request('POST', '/invoke/attempts', JSON.stringify({ data: {} }), {
      ...JSON_HEADERS,
      'x-hks-invocation-id': 'mine',
      'x-hks-attempt': 'first',
    });
    expect(res.status).toBe(200);
    const id = res.headers.get('x-invocation-id')!;
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    const { result } = await inv.tap.invocation(id);
    expect(result.metadata).not.toHaveProperty('attempt');
  });

  it('never shows the function the x-hks-* headers of the attempt', async () => {
    const res = await inv.request('GET', '/http/attempt-echo/', undefined, { 'x-hks-invocation-id': randomUUID(), 'x-hks-attempt': '1', 'x-mine': 'kept' });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ 'x-mine': 'kept' });
    expect(Object.keys(res.json).filter((h) => h.startsWith('x-hks-'))).toEqual([]);
  });

  it('says why an invocation failed in x-hks-failure-reason: error when the handler threw, timeout when it ran too long', async () => {
    const threw = await inv.request('POST', '/invoke/attempts', JSON.stringify({ data: { fail: true } }), JSON_HEADERS);
    expect(threw.status).toBe(500);
    expect(threw.headers.get('x-hks-failure-reason')).toBe('error');
    const slow = await inv.request('POST', '/invoke/attempts', JSON.stringify({ data: { ms: 5_000 } }), JSON_HEADERS);
    expect(slow.status).toBe(504);
    expect(slow.headers.get('x-hks-failure-reason')).toBe('timeout');
  }, 20_000);

  it("drops a function's own x-hks-* answer headers: a function cannot say how its failure is classified", async () => {
    const res = await inv.request('GET', '/http/spoofer/');
    expect(res.status).toBe(400);
    expect(res.headers.get('x-mine')).toBe('kept');
    expect([...res.headers.keys()].filter((h) => h.startsWith('x-hks-'))).toEqual([]);
  });
});
