import { AttemptOutcome, InternalInvocationHeaders, InvocationHeaders, InvocationResult } from '@platform/contracts';
import { RetryPolicy } from './invocation.entity';

/** A result body above this is cut, with a marker saying how much there was. */
export const RESULT_BODY_LIMIT = 256 * 1024;

export interface InvokerAnswer {
  status: number;
  headers: Record<string, string>;
  /** The failure message of the body, when there is one. */
  message?: string;
}

/** Reasons the invoker gives when it did not run the function at all: it is full, or shutting down. */
const NOT_RUN_REASONS = new Set(['queue-full', 'shutdown']);

/**
 * How one attempt ended, from the invoker's answer. The invoker marks a failed invocation with
 * x-hks-failure-reason; an answer without x-invocation-id was written by the invoker itself (not deployed, full,
 * refused), never by the function.
 */
export function classify(answer: InvokerAnswer): AttemptOutcome {
  const { status, headers } = answer;
  if (status >= 200 && status < 400) return 'succeeded';
  const reason = headers[InternalInvocationHeaders.FailureReason];
  if (reason && NOT_RUN_REASONS.has(reason)) return 'unavailable';
  // An invoker from before 'shutdown' marks its shutdown cut as a crash; the function did not fail.
  if (reason === 'crash' && status === 503 && answer.message?.startsWith('the invoker is shutting down')) return 'unavailable';
  // Only the invoker's word: a function may answer 504 itself (a gateway of its own timing out), which is a 5xx.
  if (reason === 'timeout') return 'timeout';
  if (reason === 'error' || reason === 'crash' || reason === 'memory') return 'error';
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

/** Retries of an invocation the platform could not run (not deployed, full, restarting) wait this long at most. */
export const UNAVAILABLE_MAX_DELAY_MS = 30_000;

/** Delay after the n-th unavailable answer in a row (from 1): `initialMs` doubling, at most 30 s; no jitter. */
export function unavailableDelayMs(inARow: number, initialMs: number): number {
  return Math.min(UNAVAILABLE_MAX_DELAY_MS, initialMs * Math.pow(2, Math.max(0, inARow - 1)));
}

/**
 * `counted: false`: the attempt does not use one of maxAttempts (the platform did not run the function).
 */
export type NextStep = { status: 'queued'; delayMs: number; counted: boolean } | { status: 'succeeded' | 'failed' | 'dead' };

export interface RoundState {
  /** Attempts of this round, this one included. */
  attempts: number;
  maxAttempts: number;
  /** When the round began (accepted or redriven): retry.maxAgeMs counts from then. */
  startedAt: Date;
  /** Unavailable answers in a row, this one included (for its backoff). */
  unavailableInARow?: number;
  /** The first delay after an unavailable answer. */
  unavailableDelayMs?: number;
}

/**
 * What follows an attempt: done, queued again after a delay, or dead-lettered (retryable, but out of attempts or too
 * old). An unavailable answer is retried with its own capped backoff and does not use up an attempt: an invoker
 * restart must not dead-letter what never ran; retry.maxAgeMs bounds it.
 */
export function nextStep(outcome: AttemptOutcome, policy: RetryPolicy, round: RoundState, now = Date.now()): NextStep {
  if (outcome === 'succeeded') return { status: 'succeeded' };
  if (!isRetryable(outcome, policy)) return { status: 'failed' };
  const tooOld = (delayMs: number) => now + delayMs - round.startedAt.getTime() > policy.maxAgeMs;
  if (outcome === 'unavailable') {
    const delayMs = unavailableDelayMs(round.unavailableInARow ?? 1, round.unavailableDelayMs ?? 1_000);
    return tooOld(delayMs) ? { status: 'dead' } : { status: 'queued', delayMs, counted: false };
  }
  if (round.attempts >= round.maxAttempts) return { status: 'dead' };
  const delayMs = retryDelayMs(policy, round.attempts);
  if (tooOld(delayMs)) return { status: 'dead' };
  return { status: 'queued', delayMs, counted: true };
}

const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript|x-www-form-urlencoded|problem\+json)|[^;]*\+(json|xml))/i;

/** A failure message is kept to this many characters (a function may answer with megabytes of "message"). */
export const FAILURE_MESSAGE_LIMIT = 4 * 1024;

/**
 * The answer as an InvocationResult: text when its content type is textual, it is valid UTF-8 and it holds no NUL
 * (Postgres refuses \u0000 in jsonb), else base64; cut at 256 KiB.
 */
export function toResult(status: number, headers: Record<string, string>, body: Buffer): InvocationResult {
  const text = TEXT_TYPES.test(headers['content-type'] ?? '') && !body.includes(0) && isUtf8(body);
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

/**
 * Text Postgres stores: NUL (refused in text and jsonb) and lone surrogates (refused in jsonb) become U+FFFD; cut at
 * `limit` characters.
 */
export function storableText(text: string, limit = FAILURE_MESSAGE_LIMIT): string {
  const clean = text.replaceAll('\0', '\ufffd').replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd');
  return clean.length > limit ? `${clean.slice(0, limit)}...[cut: ${clean.length} characters in all]` : clean;
}

/** Why the attempt failed, from an error body ({"message": ...}) or the body's text; storable, at most 4 KiB. */
export function failureMessage(status: number, body: Buffer): string {
  const text = body.toString('utf8').trim();
  try {
    const parsed = JSON.parse(text) as { message?: unknown; error?: unknown };
    if (typeof parsed.message === 'string') return storableText(parsed.message);
    if (typeof parsed.error === 'string') return storableText(parsed.error);
  } catch {
    // Not JSON: the text itself.
  }
  return text ? storableText(text, 500) : `answered ${status}`;
}
