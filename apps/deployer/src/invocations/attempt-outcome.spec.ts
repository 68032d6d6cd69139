import { CONFIG_DEFAULTS, RETRYABLE_FAILURES } from '@platform/contracts';
import { classify, nextStep, retryDelayMs, toResult } from './attempt-outcome';
import { RetryPolicy } from './invocation.entity';

const policy: RetryPolicy = { ...CONFIG_DEFAULTS.retry, on: [...RETRYABLE_FAILURES] };
const fromFunction = { 'x-invocation-id': 'abc' };

describe('classifying an attempt by the invoker’s answer', () => {
  it('takes 2xx and 3xx as success', () => {
    expect(classify({ status: 200, headers: fromFunction })).toBe('succeeded');
    expect(classify({ status: 302, headers: fromFunction })).toBe('succeeded');
  });

  it('uses x-hks-failure-reason for handler failures and timeouts', () => {
    expect(classify({ status: 500, headers: { ...fromFunction, 'x-hks-failure-reason': 'error' } })).toBe('error');
    expect(classify({ status: 500, headers: { ...fromFunction, 'x-hks-failure-reason': 'memory' } })).toBe('error');
    expect(classify({ status: 503, headers: { ...fromFunction, 'x-hks-failure-reason': 'crash' } })).toBe('error');
    expect(classify({ status: 500, headers: { ...fromFunction, 'x-hks-failure-reason': 'timeout' } })).toBe('timeout');
    expect(classify({ status: 504, headers: {} })).toBe('timeout');
    expect(classify({ status: 429, headers: { ...fromFunction, 'x-hks-failure-reason': 'queue-full' } })).toBe('unavailable');
  });

  it('tells the platform refusing (not deployed, full, draining) from the function answering 4xx/5xx', () => {
    for (const status of [404, 409, 429, 503]) expect(classify({ status, headers: {} })).toBe('unavailable');
    expect(classify({ status: 503, headers: fromFunction })).toBe('5xx');
    expect(classify({ status: 404, headers: fromFunction })).toBe('4xx');
    expect(classify({ status: 500, headers: {} })).toBe('5xx');
    expect(classify({ status: 422, headers: {} })).toBe('4xx');
  });
});

describe('what follows a failed attempt', () => {
  const acceptedAt = new Date();

  it('grows the delay exponentially up to maxDelayMs, with full jitter drawn from [0, delay]', () => {
    const exact = { ...policy, jitter: 'none' as const, initialDelayMs: 1000, multiplier: 2, maxDelayMs: 5000 };
    expect([1, 2, 3, 4].map((n) => retryDelayMs(exact, n))).toEqual([1000, 2000, 4000, 5000]);
    expect(retryDelayMs({ ...exact, jitter: 'full' }, 2, () => 0.5)).toBe(1000);
    expect(retryDelayMs({ ...exact, jitter: 'full' }, 2, () => 0)).toBe(0);
  });

  it('retries what retry.on lists while attempts remain, then dead-letters it', () => {
    expect(nextStep('error', policy, 1, 3, acceptedAt)).toMatchObject({ status: 'queued' });
    expect(nextStep('error', policy, 3, 3, acceptedAt)).toEqual({ status: 'dead' });
    expect(nextStep('5xx', { ...policy, on: ['error'] }, 1, 3, acceptedAt)).toEqual({ status: 'failed' });
  });

  it('never retries a 4xx, always retries the platform being unavailable or an interrupted attempt', () => {
    expect(nextStep('4xx', policy, 1, 3, acceptedAt)).toEqual({ status: 'failed' });
    expect(nextStep('unavailable', { ...policy, on: [] }, 1, 3, acceptedAt)).toMatchObject({ status: 'queued' });
    expect(nextStep('interrupted', { ...policy, on: [] }, 1, 3, acceptedAt)).toMatchObject({ status: 'queued' });
    expect(nextStep('succeeded', policy, 1, 3, acceptedAt)).toEqual({ status: 'succeeded' });
  });

  it('dead-letters an invocation too old to try again (retry.maxAgeMs)', () => {
    const old = new Date(Date.now() - policy.maxAgeMs);
    expect(nextStep('error', { ...policy, jitter: 'none' }, 1, 3, old)).toEqual({ status: 'dead' });
  });
});

describe('the recorded result', () => {
  it('keeps text as text and bytes as base64', () => {
    expect(toResult(200, { 'content-type': 'application/json' }, Buffer.from('{"a":1}'))).toEqual({
      statusCode: 200,
      headers: { 'content-type': 'application/json' },
      body: '{"a":1}',
      isBase64Encoded: false,
    });
    expect(toResult(200, { 'content-type': 'image/png' }, Buffer.from([0, 255]))).toMatchObject({ body: 'AP8=', isBase64Encoded: true });
  });

  it('cuts a body over 256 KiB and says how large it was', () => {
    const r = toResult(200, { 'content-type': 'text/plain' }, Buffer.alloc(300 * 1024, 'a'));
    expect(r.body.length).toBeLessThan(257 * 1024);
    expect(r.body).toMatch(/\[truncated: 307200 bytes in all\]$/);
  });
});
