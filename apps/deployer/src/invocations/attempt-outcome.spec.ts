import { CONFIG_DEFAULTS, RETRYABLE_FAILURES } from '@platform/contracts';
import { classify, failureMessage, nextStep, retryDelayMs, storableText, toResult, unavailableDelayMs } from './attempt-outcome';
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
    expect(classify({ status: 504, headers: { ...fromFunction, 'x-hks-failure-reason': 'timeout' } })).toBe('timeout');
    expect(classify({ status: 504, headers: fromFunction })).toBe('5xx');
    expect(classify({ status: 429, headers: { ...fromFunction, 'x-hks-failure-reason': 'queue-full' } })).toBe('unavailable');
  });

  it('takes the invoker shutting down as unavailable, not as the function failing', () => {
    expect(classify({ status: 503, headers: { ...fromFunction, 'x-hks-failure-reason': 'shutdown' } })).toBe('unavailable');
    const cut = { status: 503, headers: { ...fromFunction, 'x-hks-failure-reason': 'crash' } };
    expect(classify({ ...cut, message: 'the invoker is shutting down; the invocation was cut after 10000 ms' })).toBe('unavailable');
    expect(classify({ ...cut, message: 'the worker exited with code 1' })).toBe('error');
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
    expect(nextStep('error', policy, { attempts: 1, maxAttempts: 3, startedAt: acceptedAt })).toMatchObject({ status: 'queued' });
    expect(nextStep('error', policy, { attempts: 3, maxAttempts: 3, startedAt: acceptedAt })).toEqual({ status: 'dead' });
    expect(nextStep('5xx', { ...policy, on: ['error'] }, { attempts: 1, maxAttempts: 3, startedAt: acceptedAt })).toEqual({ status: 'failed' });
  });

  it('never retries a 4xx, always retries the platform being unavailable or an interrupted attempt', () => {
    expect(nextStep('4xx', policy, { attempts: 1, maxAttempts: 3, startedAt: acceptedAt })).toEqual({ status: 'failed' });
    expect(nextStep('unavailable', { ...policy, on: [] }, { attempts: 1, maxAttempts: 3, startedAt: acceptedAt })).toMatchObject({ status: 'queued' });
    expect(nextStep('interrupted', { ...policy, on: [] }, { attempts: 1, maxAttempts: 3, startedAt: acceptedAt })).toMatchObject({ status: 'queued' });
    expect(nextStep('succeeded', policy, { attempts: 1, maxAttempts: 3, startedAt: acceptedAt })).toEqual({ status: 'succeeded' });
  });

  it('does not use up an attempt when the platform was unavailable: backs off 1 s doubling to 30 s until retry.maxAgeMs', () => {
    expect(nextStep('unavailable', policy, { attempts: 3, maxAttempts: 3, startedAt: acceptedAt })).toEqual({
      status: 'queued',
      delayMs: 1000,
      counted: false,
    });
    expect(nextStep('unavailable', policy, { attempts: 1, maxAttempts: 3, startedAt: acceptedAt, unavailableInARow: 3 })).toMatchObject({ delayMs: 4000 });
    expect([1, 2, 5, 6, 20].map((n) => unavailableDelayMs(n, 1000))).toEqual([1000, 2000, 16_000, 30_000, 30_000]);
    const old = new Date(Date.now() - policy.maxAgeMs + 500);
    expect(nextStep('unavailable', policy, { attempts: 1, maxAttempts: 3, startedAt: old })).toEqual({ status: 'dead' });
    expect(nextStep('error', policy, { attempts: 1, maxAttempts: 3, startedAt: acceptedAt })).toMatchObject({ status: 'queued', counted: true });
  });

  it('dead-letters an invocation too old to try again (retry.maxAgeMs)', () => {
    const old = new Date(Date.now() - policy.maxAgeMs);
    expect(nextStep('error', { ...policy, jitter: 'none' }, { attempts: 1, maxAttempts: 3, startedAt: old })).toEqual({ status: 'dead' });
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

describe('what Postgres can store', () => {
  it('keeps a text body holding NUL as base64', () => {
    expect(toResult(200, { 'content-type': 'text/plain' }, Buffer.from('ok\0'))).toMatchObject({ body: 'b2sA', isBase64Encoded: true });
  });

  it('replaces NUL and lone surrogates in a failure message, keeps pairs, and cuts it at 4 KiB', () => {
    expect(storableText('a\u0000b\ud800c\udc00d\ud83d\ude00')).toBe('a\ufffdb\ufffdc\ufffdd\ud83d\ude00');
    expect(failureMessage(500, Buffer.from(JSON.stringify({ message: '\ud800' })))).toBe('\ufffd');
    expect(failureMessage(500, Buffer.from(JSON.stringify({ message: 'y'.repeat(5000) })))).toMatch(/^y{4096}\.\.\.\[cut: 5000 characters in all\]$/);
    expect(failureMessage(500, Buffer.from('plain\0text'))).toBe('plain\ufffdtext');
  });
});
