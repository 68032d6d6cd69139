import { ApiExtraModels, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, IsArray, IsIn, IsOptional, IsUUID } from 'class-validator';
import { ANY_JSON, ApiNullableModel, DATE_TIME, STRING_MAP, UUID } from '../openapi-schemas';
import { WholeNumber } from '../functions/validators';

/*
 * Asynchronous invocations: accepted (202) once durable, run by the deployer's delivery loop with retries and
 * backoff, dead-lettered when every attempt failed, redriven, cancelled while queued, and replayed (any stored
 * invocation, synchronous or not). The gateway accepts and answers; the deployer owns the records
 * (Postgres schema `deployer`, table `invocations`) and the work queue (a RabbitMQ quorum queue).
 */

export const INVOCATIONS_PATH = '/api/v1/invocations';

/** GET /api/v1/invocations/{id}: what a 202 points at (its Location header and `statusUrl`). */
export function invocationStatusUrl(id: string): string {
  return `${INVOCATIONS_PATH}/${id}`;
}

/**
 * queued: waiting for its first attempt, or for its next one after a failure (`nextAttemptAt`);
 * running: an attempt is under way;
 * succeeded: an attempt answered 2xx/3xx;
 * failed: an attempt failed in a way `config.retry.on` does not retry (a 4xx answer, or a kind left out): final;
 * dead: every attempt allowed failed (or it was too old to try again): final, listed as a dead letter, redrivable;
 * cancelled: cancelled while queued: final.
 */
export const INVOCATION_STATUSES = ['queued', 'running', 'succeeded', 'failed', 'dead', 'cancelled'] as const;
export type InvocationStatus = (typeof INVOCATION_STATUSES)[number];
export const FINAL_INVOCATION_STATUSES: readonly InvocationStatus[] = ['succeeded', 'failed', 'dead', 'cancelled'];

/** What kinds of failure `config.retry.on` may list. A platform that cannot run the attempt (unavailable) is always retried. */
export const RETRYABLE_FAILURES = ['error', 'timeout', '5xx'] as const;
export type RetryableFailure = (typeof RETRYABLE_FAILURES)[number];

/**
 * How one attempt ended.
 * error: the handler threw (or crashed, or ran out of memory); timeout: it ran past resources.timeoutMs;
 * 5xx: the handler answered a 5xx itself; 4xx: it answered a 4xx (never retried);
 * unavailable: the platform could not run it (invoker unreachable, function not deployed, pool full: 429/503);
 * interrupted: the process running the attempt stopped before it ended (its lease ran out).
 */
export const ATTEMPT_OUTCOMES = ['succeeded', 'error', 'timeout', '5xx', '4xx', 'unavailable', 'interrupted'] as const;
export type AttemptOutcome = (typeof ATTEMPT_OUTCOMES)[number];

/** Request headers that ask for, or shape, an asynchronous invocation (lower case, as node gives them). */
export const AsyncRequestHeaders = {
  /** RFC 7240: `Prefer: respond-async`. */
  Prefer: 'prefer',
  /** AWS Lambda's convention: `X-Invocation-Type: Event` (RequestResponse, the default, is synchronous). */
  InvocationType: 'x-invocation-type',
  /** OpenFaaS's convention: where the result is POSTed when the invocation ends (implies async). */
  CallbackUrl: 'x-callback-url',
  /** The IETF draft's idempotency key; `X-Idempotency-Key` is accepted too. */
  IdempotencyKey: 'idempotency-key',
  IdempotencyKeyAlt: 'x-idempotency-key',
} as const;

/**
 * Headers between the deployer and the invoker only: the gateway drops them from every public request, the
 * invoker believes them only from a caller holding the internal credential.
 */
export const InternalInvocationHeaders = {
  /** The invocation id the attempt's events carry (the async invocation's id), instead of a new one. */
  InvocationId: 'x-hks-invocation-id',
  /** The attempt number (1, 2, ...), recorded in the events' metadata. */
  Attempt: 'x-hks-attempt',
  /** On the invoker's answer to a failed invocation: InvocationMetadata['reason'] (timeout, memory, crash, error, ...). */
  FailureReason: 'x-hks-failure-reason',
} as const;

/**
 * Why a stored request's path (what follows the function name) cannot be sent again, or undefined. It is sent later
 * by an HTTP client that resolves dot segments ("..", "%2e%2e", any case) and treats "\\" as "/": such a path would
 * leave the function's own URL on the invoker (another function, or the invoker's own API), so it is refused.
 */
export function storedPathProblem(path: string): string | undefined {
  if (!path.startsWith('/')) return 'the path after the function name must start with "/"';
  if (/[?#\\]/.test(path)) return 'the path after the function name may not contain "?", "#" or "\\"';
  const dot = path.split('/').some((segment) => /^(\.|%2e){1,2}$/i.test(segment));
  if (dot) return 'the path after the function name may not contain "." or ".." segments (plain or percent-encoded)';
  return undefined;
}

export const IDEMPOTENCY_KEY_MAX_LENGTH = 255;
export const CALLBACK_URL_MAX_LENGTH = 2048;

/** Whether the request asks to be run asynchronously; `headers` as node gives them (lower-case names). */
export function wantsAsync(headers: Record<string, string | string[] | undefined>): boolean {
  const one = (v: string | string[] | undefined) => (Array.isArray(v) ? v.join(',') : (v ?? ''));
  const prefer = one(headers[AsyncRequestHeaders.Prefer]);
  if (prefer && prefer.split(',').some((p) => p.split(';')[0].trim().toLowerCase() === 'respond-async')) return true;
  if (one(headers[AsyncRequestHeaders.InvocationType]).trim().toLowerCase() === 'event') return true;
  return one(headers[AsyncRequestHeaders.CallbackUrl]).trim() !== '';
}

export const InvocationPatterns = {
  /** AcceptInvocationCommand -> AcceptedInvocation: durable (committed) when it answers. 429 when the queue is full. */
  Accept: 'invocations.accept',
  /** { id } -> InvocationView (async ones from the deployer's records; synchronous ones from their events). */
  Get: 'invocations.get',
  /** InvocationListQueryDto -> InvocationPage: asynchronous invocations, newest first. */
  List: 'invocations.list',
  /** { id } -> InvocationView: a queued invocation becomes cancelled; 409 once it runs or ended. */
  Cancel: 'invocations.cancel',
  /** { id } -> InvocationView: a dead (or failed) invocation is queued again with a fresh set of attempts. */
  Redrive: 'invocations.redrive',
  /** RedriveManyDto -> { redriven, ids }. */
  RedriveMany: 'invocations.redrive-many',
  /** ReplayInvocationDto -> AcceptedInvocation: a new async invocation from the stored request of any invocation. */
  Replay: 'invocations.replay',
  /** {} -> CallbackKeyView: the public key that verifies callback signatures. */
  CallbackKey: 'invocations.callback-key',
} as const;

/** The request as the function would have got it, stored to run it later (and again). */
export class StoredRequest {
  @ApiProperty({ enum: ['data', 'http'], description: 'data: POST /api/v1/functions/invoke/{id}; http: /fn/{label}.' })
  style: 'data' | 'http';

  @ApiProperty({ example: 'POST' })
  method: string;

  @ApiProperty({ example: '/', description: 'The path after the function name ("/" when none).' })
  path: string;

  @ApiProperty({ example: 'a=1&b=2', description: 'The raw query string, without "?".' })
  query: string;

  @ApiProperty({ ...STRING_MAP, description: 'Request headers (lower-case names), without credentials and hop-by-hop headers.' })
  headers: Record<string, string>;

  @ApiProperty({ description: 'The body, base64.' })
  body: string;
}

/** Who made an invocation. */
export const INVOCATION_SOURCES = ['api', 'http', 'replay', 'queue', 'rabbitmq', 'nats', 'mqtt', 'kafka', 's3', 'schedule', 'event'] as const;
export type InvocationSource = (typeof INVOCATION_SOURCES)[number];

/** A trigger's retry policy: any of config.retry's fields; the others come from config.retry. */
export interface RetryOverride {
  attempts?: number;
  initialDelayMs?: number;
  maxDelayMs?: number;
  multiplier?: number;
  jitter?: 'full' | 'none';
  on?: RetryableFailure[];
  maxAgeMs?: number;
}

/** The trigger an invocation came from, kept with it (deployer.invocations.trigger). */
export interface InvocationTrigger {
  /** The trigger's type as configured (e.g. "nats"). */
  type: string;
  /** Stable id of the trigger within its function (see @platform/sources triggerKey). */
  key: string;
  /** The trigger as configured: what its result/error topics are published with. */
  config: Record<string, unknown>;
}

/** Payload of InvocationPatterns.Accept (the gateway resolved the function and checked the caller). */
export interface AcceptInvocationCommand {
  functionId: string;
  request: StoredRequest;
  callbackUrl?: string;
  idempotencyKey?: string;
  /**
   * Who asked: 'api' / 'http' from the gateway; 'replay' for a replay; an event source's kind (queue, rabbitmq,
   * nats, mqtt, kafka, s3, schedule, event) for an invocation one of the function's triggers made.
   */
  source: InvocationSource;
  /** The trigger's own retry policy (its `retry`), in place of the function's config.retry. */
  retry?: RetryOverride;
  /** The trigger that made it: what its result and error topics are published with when it ends. */
  trigger?: InvocationTrigger;
  /** The invocation this one replays. */
  replayOf?: string;
  /** Run this function version (a replay against the original one); absent: whatever is deployed. */
  version?: number;
}

export class AcceptedInvocation {
  @ApiProperty({ ...UUID })
  invocationId: string;

  @ApiProperty({ ...UUID })
  functionId: string;

  @ApiProperty({ enum: INVOCATION_STATUSES, enumName: 'InvocationStatus' })
  status: InvocationStatus;

  @ApiProperty({ example: '/api/v1/invocations/4b0c2f5e-8d1a-4c3e-9f7a-2d6b8e1c0a93' })
  statusUrl: string;

  @ApiProperty({ description: 'True when an earlier request with the same idempotency key made this invocation (nothing new was queued).' })
  duplicate: boolean;
}

export class InvocationResult {
  @ApiProperty({ type: 'integer', example: 200 })
  statusCode: number;

  @ApiProperty({ ...STRING_MAP })
  headers: Record<string, string>;

  @ApiProperty({ description: 'The body: text, or base64 when isBase64Encoded (cut at 256 KiB, with a marker).' })
  body: string;

  @ApiProperty()
  isBase64Encoded: boolean;
}

export class InvocationAttempt {
  @ApiProperty({ type: 'integer', minimum: 1 })
  number: number;

  // Inline, not a named enum: OpenAPI 3.0's nullable does not widen a $ref, and an enum allows null only when it lists it.
  @ApiProperty({ type: String, enum: [...ATTEMPT_OUTCOMES, null], nullable: true, description: 'null while it runs.' })
  outcome: AttemptOutcome | null;

  @ApiProperty({ ...DATE_TIME })
  startedAt: string;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  endedAt: string | null;

  @ApiProperty({ type: Number, nullable: true })
  durationMs: number | null;

  @ApiProperty({ type: 'integer', nullable: true, description: "The invoker's answer's status, if it answered." })
  statusCode: number | null;

  @ApiProperty({ type: String, nullable: true })
  error: string | null;

  @ApiProperty({ type: String, nullable: true, description: "The function's logs of this attempt (from its invocation event; null until recorded)." })
  logs: string | null;
}

export class InvocationCallback {
  @ApiProperty({ example: 'https://example.com/hooks/hks' })
  url: string;

  @ApiProperty({ enum: ['pending', 'delivered', 'failed'], description: 'failed: every delivery attempt failed.' })
  status: 'pending' | 'delivered' | 'failed';

  @ApiProperty({ type: 'integer' })
  attempts: number;

  @ApiProperty({ type: String, nullable: true })
  lastError: string | null;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  deliveredAt: string | null;
}

@ApiExtraModels(InvocationResult, InvocationCallback)
export class InvocationView {
  @ApiProperty({ ...UUID })
  id: string;

  @ApiProperty({ ...UUID })
  functionId: string;

  @ApiProperty({ example: 'my-function' })
  label: string;

  @ApiProperty({ description: 'Accepted with 202 (true), or answered synchronously (false: built from its events).' })
  async: boolean;

  @ApiProperty({ enum: INVOCATION_STATUSES, enumName: 'InvocationStatus' })
  status: InvocationStatus;

  @ApiProperty({ example: 'api', description: 'Who asked: api, http, replay, queue, schedule, event.' })
  source: string;

  @ApiProperty({ type: 'integer', nullable: true, description: 'The function version it ran (or is pinned to); null before its first attempt.' })
  version: number | null;

  @ApiProperty({ type: 'integer', description: 'Attempts allowed (config.retry.attempts when accepted).' })
  maxAttempts: number;

  @ApiProperty({ type: [InvocationAttempt] })
  attempts: InvocationAttempt[];

  @ApiNullableModel(InvocationResult, { description: "The last attempt's answer; null before one ended." })
  result: InvocationResult | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why it failed, was dead-lettered or cancelled.' })
  error: string | null;

  @ApiProperty({ ...DATE_TIME, nullable: true, description: 'When a queued invocation is due (its next attempt after a failure).' })
  nextAttemptAt: string | null;

  @ApiProperty({ ...DATE_TIME })
  acceptedAt: string;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  finishedAt: string | null;

  @ApiNullableModel(InvocationCallback)
  callback: InvocationCallback | null;

  @ApiProperty({ type: String, nullable: true })
  idempotencyKey: string | null;

  @ApiProperty({ ...UUID, nullable: true, description: 'The invocation this one replays.' })
  replayOf: string | null;

  @ApiProperty({ description: 'The stored request (its body base64).', type: StoredRequest })
  request: StoredRequest;
}

export class InvocationPage {
  @ApiProperty({ type: [InvocationView], description: 'Newest first; each without its request body (GET one for it).' })
  items: InvocationView[];

  @ApiProperty({ type: String, nullable: true, description: 'Pass as `before` for the next page; null on the last.' })
  next: string | null;
}

/** Query of GET /api/v1/invocations (payload of InvocationPatterns.List). */
export class InvocationListQueryDto {
  @ApiPropertyOptional({ ...UUID, description: 'Only invocations of this function.' })
  @IsOptional()
  @IsUUID('all', { message: 'functionId must be a function id (UUID)' })
  functionId?: string;

  @ApiPropertyOptional({ enum: INVOCATION_STATUSES, enumName: 'InvocationStatus', description: 'Only invocations in this status (dead: the dead letters).' })
  @IsOptional()
  @IsIn(INVOCATION_STATUSES as unknown as string[], { message: `status must be one of ${INVOCATION_STATUSES.join(', ')}` })
  status?: InvocationStatus;

  @ApiPropertyOptional({ type: 'integer', default: 50, minimum: 1, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @WholeNumber(1, 500, 'limit must be a whole number from 1 to 500')
  limit?: number;

  @ApiPropertyOptional({ description: "The previous page's `next`." })
  @IsOptional()
  before?: string;
}

export class InvocationIdDto {
  @ApiProperty({ ...UUID })
  @IsUUID('all', { message: 'the invocation id must be a UUID' })
  id: string;
}

/** Body of POST /api/v1/invocations/redrive: the dead letters to queue again (all of them, of a function, or by id). */
export class RedriveManyDto {
  @ApiPropertyOptional({ ...UUID, description: "Only this function's dead letters." })
  @IsOptional()
  @IsUUID('all', { message: 'functionId must be a function id (UUID)' })
  functionId?: string;

  @ApiPropertyOptional({ type: [String], description: 'Only these invocations (at most 1000).' })
  @IsOptional()
  @IsArray({ message: 'ids must be a list of invocation ids' })
  @ArrayMaxSize(1000, { message: 'ids may list at most 1000 invocations' })
  @IsUUID('all', { each: true, message: 'each of ids must be an invocation id (UUID)' })
  ids?: string[];

  @ApiPropertyOptional({ type: 'integer', default: 1000, minimum: 1, maximum: 10000, description: 'At most this many.' })
  @IsOptional()
  @WholeNumber(1, 10_000, 'limit must be a whole number from 1 to 10000')
  limit?: number;
}

export class RedriveManyResult {
  @ApiProperty({ type: 'integer' })
  redriven: number;

  @ApiProperty({ type: [String] })
  ids: string[];
}

/** Payload of InvocationPatterns.Replay (POST /api/v1/invocations/{id}/replay, body `{ "version": ... }`). */
export class ReplayInvocationDto {
  @ApiProperty({ ...UUID })
  @IsUUID('all', { message: 'the invocation id must be a UUID' })
  id: string;

  @ApiPropertyOptional({
    enum: ['current', 'original'],
    default: 'current',
    description: 'Run it on the version deployed now, or on the version the original ran (409 while that one is not deployed).',
  })
  @IsOptional()
  @IsIn(['current', 'original'], { message: 'version must be "current" or "original"' })
  version?: 'current' | 'original';
}

/** What verifies a callback: Standard Webhooks' asymmetric scheme ("v1a", ed25519). */
export class CallbackKeyView {
  @ApiProperty({ enum: ['ed25519'] })
  algorithm: 'ed25519';

  @ApiProperty({ description: 'The public key, base64 of its 32 raw bytes.' })
  publicKey: string;

  @ApiProperty({ description: 'The same key as an SPKI PEM, for crypto.createPublicKey.' })
  publicKeyPem: string;

  @ApiProperty({
    example: 'webhook-signature: v1a,<base64 ed25519 signature of "{webhook-id}.{webhook-timestamp}.{body}">',
    description: 'How a callback is signed (https://www.standardwebhooks.com/).',
  })
  scheme: string;
}

/** The JSON body POSTed to an X-Callback-Url when the invocation ends. */
export class InvocationCallbackBody {
  @ApiProperty({ ...UUID })
  invocationId: string;

  @ApiProperty({ ...UUID })
  functionId: string;

  @ApiProperty({ enum: INVOCATION_STATUSES, enumName: 'InvocationStatus' })
  status: InvocationStatus;

  @ApiProperty({ type: 'integer' })
  attempts: number;

  @ApiProperty({ type: Number, nullable: true, description: "The last attempt's duration." })
  durationMs: number | null;

  @ApiNullableModel(InvocationResult)
  result: InvocationResult | null;

  @ApiProperty({ type: String, nullable: true })
  error: string | null;

  @ApiProperty({ ...ANY_JSON, description: 'The JSON value the function returned, when its answer was JSON; null otherwise.' })
  value: unknown;
}
