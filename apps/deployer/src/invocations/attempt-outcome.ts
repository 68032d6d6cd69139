import { AttemptOutcome, InternalInvocationHeaders, InvocationHeaders, InvocationResult } from '@platform/contracts';
import { RetryPolicy } from './invocation.entity';

/** A result body above this is cut, with a marker saying how much there was. */
export const RESULT_BODY_LIMIT = 256 * 1024;

export interface InvokerAnswer {
  status: number;
  headers: Record<string, string>;
}

/**
 * How one attempt ended, from the invoker's answer. The invoker marks a failed invocation with
 * x-hks-failure-reason; an answer without x-invocation-id was written by the invoker itself (not deployed, full,
 * refused), never by the function.
 */
export function classify(answer: InvokerAnswer): AttemptOutcome {
  const { status, headers } = answer;
  if (status >= 200 && status < 400) return 'succeeded';
  const reason = headers[InternalInvocationHeaders.FailureReason];
  if (reason === 'timeout' || status === 504) return 'timeout';
  if (reason === 'error' || reason === 'crash' || reason === 'memory') return 'error';
  if (reason === 'queue-full') return 'unavailable';
  if (reason === 'payload-too-large') return '4xx';
  const fromFunction = headers[InvocationHeaders.InvocationId] !== undefined;
  if (!fromFunction && [401, 404, 409, 429, 503].includes(status)) return 'unavailable';
  if (status >= 500) return '5xx';
  return '4xx';
}

/** Unavailable and interrupted attempts never ran to an answer: always worth another try. */
export function isRetryable(outcome: AttemptOutcome, policy: RetryPolicy): boolean {
  if (outcome === 'unavailable' || outcome === 'interrupted') return true;
  return (policy.on as string[]).includes(outcome);
}

/** Delay before retry n (n = attempts made so far, from 1): exponential, capped, with AWS's "full jitter". */
export function retryDelayMs(policy: RetryPolicy, n: number, random: () => number = Math.random): number {
  const delay = Math.min(policy.maxDelayMs, policy.initialDelayMs * Math.pow(policy.multiplier, Math.max(0, n - 1)));
  return policy.jitter === 'full' ? Math.floor(random() * delay) : delay;
}

export type NextStep = { status: 'queued'; delayMs: number } | { status: 'succeeded' | 'failed' | 'dead' };

/** What follows an attempt: done, queued again after a delay, or dead-lettered (retryable, but out of attempts or too old). */
export function nextStep(outcome: AttemptOutcome, policy: RetryPolicy, attempts: number, maxAttempts: number, acceptedAt: Date, now = Date.now()): NextStep {
  if (outcome === 'succeeded') return { status: 'succeeded' };
  if (!isRetryable(outcome, policy)) return { status: 'failed' };
  if (attempts >= maxAttempts) return { status: 'dead' };
  const delayMs = retryDelayMs(policy, attempts);
  if (now + delayMs - acceptedAt.getTime() > policy.maxAgeMs) return { status: 'dead' };
  return { status: 'queued', delayMs };
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|problem\+json)|[^;]*\+(json|xml))/i;

/** The answer as an InvocationResult: text when its content type is textual and it is valid UTF-8, else base64; cut at 256 KiB. */
export function toResult(status: number, headers: Record<string, string>, body: Buffer): InvocationResult {
  const text = TEXT_TYPES.test(headers['content-type'] ?? '') && isUtf8(body);
  const cut = body.length > RESULT_BODY_LIMIT;
  const kept = cut ? body.subarray(0, RESULT_BODY_LIMIT) : body;
  let encoded = text ? kept.toString('utf8') : kept.toString('base64');
  if (cut) encoded += `\n...[truncated: ${body.length} bytes in all]`;
  return { statusCode: status, headers, body: encoded, isBase64Encoded: !text };
}

function isUtf8(body: Buffer): boolean {
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(body);
    return true;
  } catch {
    return false;
  }
}

/** The JSON value the function returned, when its answer was complete JSON text; null otherwise. */
export function jsonValue(result: InvocationResult | null): unknown {
  if (!result || result.isBase64Encoded || !/json/i.test(result.headers['content-type'] ?? '')) return null;
  try {
    return JSON.parse(result.body);
  } catch {
    return null;
  }
}

/** Why the attempt failed, from an error body ({"message": ...}) or the body's text. */
export function failureMessage(status: number, body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    if (typeof parsed.message === 'string') return parsed.message;
    if (typeof parsed.error === 'string') return parsed.error;
  } catch {
    // Not JSON: the text itself.
  }
  return text ? text.slice(0, 500) : `answered ${status}`;
}
