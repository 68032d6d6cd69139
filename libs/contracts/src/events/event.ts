import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { randomUUID } from 'crypto';
import { WholeNumber } from '../functions/validators';
import { EVENT_TYPE_MAX_LENGTH, EVENT_TYPE_PATTERN, IsCustomEventType, IsEventType, PLATFORM_EVENT_TYPES } from './event-types';
import { ANY_JSON, DATE_TIME, JSON_OBJECT, UUID } from '../openapi-schemas';

/** The event exchange (topic): one CloudEvent per message, routing keys from routingKeyOf (cloudevent.ts). */
export function eventExchange(namespace: string): string {
  return `${namespace}.events`;
}

/**
 * The event store's queue (under the namespace), bound to every event: the event log. Every publisher declares it too,
 * so an event published before the event store's first start waits there instead of being routed nowhere.
 */
export const EVENT_LOG_QUEUE = 'event-store.events';

/** The product's examples of a user's own event types (any type matching EVENT_TYPE_PATTERN may be posted). */
export const USER_EVENT_TYPES = ['USER_CREATED', 'ORDER_PLACED', 'PAYMENT_PROCESSED', 'ITEM_SHIPPED', 'OTHER'] as const;

/** The types the platform knows by name: its own, and the product's examples of a user's. */
export const EVENT_TYPES = [...PLATFORM_EVENT_TYPES, ...USER_EVENT_TYPES] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export const EVENT_STATUSES = ['PENDING', 'SUCCESS', 'FAILURE'] as const;
export type EventStatus = (typeof EVENT_STATUSES)[number];

/** Routing keys of everything on the exchange. */
export const EventNames = {
  FunctionCreated: 'function.created',
  FunctionUpdated: 'function.updated',
  FunctionDeleted: 'function.deleted',
  BuildQueued: 'build.queued',
  BuildStarted: 'build.started',
  BuildSucceeded: 'build.succeeded',
  BuildFailed: 'build.failed',
  DeploymentStarted: 'deployment.started',
  DeploymentReady: 'deployment.ready',
  DeploymentFailed: 'deployment.failed',
  DeploymentDeleted: 'deployment.deleted',
  InvocationPending: 'invocation.pending',
  InvocationSucceeded: 'invocation.succeeded',
  InvocationFailed: 'invocation.failed',
  /** An event a user posted to /api/v3/events; functions subscribed to its type are triggered. */
  EventCreated: 'event.created',
  /** An API key was revoked; the gateway forgets what it cached about keys. */
  ApiKeyRevoked: 'apikey.revoked',
} as const;
export type EventName = (typeof EventNames)[keyof typeof EventNames];

/** One event, as published, stored and returned by the API. */
export class PlatformEvent {
  /** uuid; the idempotency key of the event store. */
  @ApiProperty({ ...UUID, description: 'The idempotency key of the event store.' })
  id: string;

  /** What happened (`invocation.succeeded`); the first words of the routing key. */
  @ApiProperty({ type: String, example: 'invocation.succeeded', description: 'What happened; the first words of its routing key on the event exchange.' })
  name: EventName | string;

  /** One of EVENT_TYPES, or a custom type (event-types.ts) for an event a user posted. */
  @ApiProperty({
    type: String,
    example: 'ORDER_PLACED',
    description: `The platform's own types (${EVENT_TYPES.join(', ')}) or a custom type a user posted (${EVENT_TYPE_PATTERN.source}).`,
  })
  type: EventType | (string & Record<never, never>);

  @ApiProperty({ enum: EVENT_STATUSES, enumName: 'EventStatus' })
  status: EventStatus;

  /** ISO-8601. */
  @ApiProperty({ ...DATE_TIME })
  timestamp: string;

  /** Service or client that produced it (e.g. "invoker", "api"). */
  @ApiProperty({ example: 'invoker', description: 'Service or client that produced it.' })
  source: string;

  @ApiProperty({ ...UUID, nullable: true })
  functionId: string | null;

  /** The invocation an event records: its SUCCESS/FAILURE event, and its PENDING event when it ran long enough to have one. */
  @ApiProperty({
    ...UUID,
    nullable: true,
    description:
      'The invocation the event records. Each invocation has one SUCCESS or FAILURE event; one that ran longer than the ' +
      "invoker's INVOKER_PENDING_EVENT_AFTER_MS (500 ms) also has a PENDING event, published while it ran.",
  })
  invocationId: string | null;

  @ApiProperty({ ...ANY_JSON, description: 'Any JSON value: the data of an invocation, the fields of a lifecycle event.' })
  payload: unknown;

  @ApiProperty({ ...ANY_JSON, description: "Any JSON value: an invocation's answer." })
  response: unknown;

  @ApiProperty({ type: Number, nullable: true, description: 'Duration of the invocation in milliseconds.' })
  processingTimeMs: number | null;

  @ApiProperty({ type: String, nullable: true })
  error: string | null;

  /** Extra facts: cold start, start time, logs, build digest ... */
  @ApiProperty({ ...JSON_OBJECT, nullable: true, description: 'Extra facts: cold start, start time, logs, build digest ...' })
  metadata: Record<string, unknown> | null;
  /** The label of the function it concerns, for routing keys and the CloudEvent's subject only: never stored. */
  functionLabel?: string | null;
}

export function newEvent(fields: Partial<PlatformEvent> & Pick<PlatformEvent, 'name' | 'type' | 'status' | 'source'>): PlatformEvent {
  return {
    id: fields.id ?? randomUUID(),
    timestamp: fields.timestamp ?? new Date().toISOString(),
    functionId: fields.functionId ?? null,
    invocationId: fields.invocationId ?? null,
    payload: fields.payload ?? null,
    response: fields.response ?? null,
    processingTimeMs: fields.processingTimeMs ?? null,
    error: fields.error ?? null,
    metadata: fields.metadata ?? null,
    ...fields,
  } as PlatformEvent;
}

/** Body of POST /api/v3/events. */
export class CreateEventDto {
  @ApiProperty({
    example: 'com.shop.order.placed',
    maxLength: EVENT_TYPE_MAX_LENGTH,
    pattern: EVENT_TYPE_PATTERN.source,
    description: `Any type of your own, e.g. ${USER_EVENT_TYPES.join(', ')} or com.shop.order.placed; not one of the platform's (FUNCTION_INVOCATION, FUNCTION_CREATED ...).`,
  })
  @IsCustomEventType()
  type: string;

  @ApiPropertyOptional({ example: 'shop', description: 'Who produced the event.', default: 'api' })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  source?: string;

  @ApiPropertyOptional({ ...ANY_JSON, example: { orderId: 42 }, description: 'Any JSON value.' })
  @IsOptional()
  payload?: unknown;

  @ApiPropertyOptional({ description: 'Function this event concerns, if any.' })
  @IsOptional()
  @IsUUID('all', { message: 'functionId must be a UUID' })
  functionId?: string;

  @ApiPropertyOptional({ enum: EVENT_STATUSES, default: 'SUCCESS' })
  @IsOptional()
  @IsIn(EVENT_STATUSES as unknown as string[], { message: `status must be one of ${EVENT_STATUSES.join(', ')}` })
  status?: EventStatus;
}

/** Query of GET /api/v3/events. */
export class EventQueryDto {
  @ApiPropertyOptional({ description: 'Only events of this function (id).' })
  @IsOptional()
  @IsUUID('all', { message: 'functionId must be a UUID' })
  functionId?: string;

  @ApiPropertyOptional({ description: 'Only the events of this invocation: its result, and its PENDING event if it ran long enough to have one.' })
  @IsOptional()
  @IsUUID('all', { message: 'invocationId must be a UUID' })
  invocationId?: string;

  @ApiPropertyOptional({
    description: "Only events of this type: one of the platform's (FUNCTION_INVOCATION ...) or a custom one.",
    maxLength: EVENT_TYPE_MAX_LENGTH,
    example: 'FUNCTION_INVOCATION',
  })
  @IsOptional()
  @IsEventType()
  type?: string;

  @ApiPropertyOptional({ enum: EVENT_STATUSES })
  @IsOptional()
  @IsIn(EVENT_STATUSES as unknown as string[], { message: `status must be one of ${EVENT_STATUSES.join(', ')}` })
  status?: EventStatus;

  @ApiPropertyOptional({ description: 'Events at or after this ISO-8601 time.' })
  @IsOptional()
  @IsISO8601({}, { message: 'from must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z' })
  from?: string;

  @ApiPropertyOptional({ description: 'Events before this ISO-8601 time.' })
  @IsOptional()
  @IsISO8601({}, { message: 'to must be an ISO-8601 date-time, e.g. 2026-01-31T13:00:00Z' })
  to?: string;

  @ApiPropertyOptional({ default: 1, minimum: 1 })
  @IsOptional()
  @Type(() => Number)
  @WholeNumber(1, Infinity, 'page must be a whole number from 1')
  page?: number;

  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @WholeNumber(1, 500, 'limit must be a whole number from 1 to 500')
  limit?: number;

  @ApiPropertyOptional({ enum: ['asc', 'desc'], default: 'desc', description: 'Order by timestamp.' })
  @IsOptional()
  @IsIn(['asc', 'desc'])
  order?: 'asc' | 'desc';
}

export class EventPage {
  @ApiProperty({ type: [PlatformEvent] })
  items: PlatformEvent[];

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Events that match, on every page.' })
  total: number;

  @ApiProperty({ type: 'integer', minimum: 1 })
  page: number;

  @ApiProperty({ type: 'integer', minimum: 1 })
  limit: number;
}

/** Aggregates over a function's invocation results (for `hks function stats|metrics`). */
export interface InvocationStatsQuery {
  functionId: string;
  from?: string;
  to?: string;
  /** Bucket width for the time series, in seconds; omitted = no series. */
  bucketSeconds?: number;
  /** `version`: the same figures for each version, side by side. */
  by?: 'version';
  /** Only this version's invocations. */
  version?: number;
}

/** Duration percentiles in milliseconds; null when there was no invocation. */
export class DurationPercentiles {
  @ApiProperty({ type: Number, nullable: true }) p50: number | null;
  @ApiProperty({ type: Number, nullable: true }) p90: number | null;
  @ApiProperty({ type: Number, nullable: true }) p95: number | null;
  @ApiProperty({ type: Number, nullable: true }) p99: number | null;
  @ApiProperty({ type: Number, nullable: true }) avg: number | null;
  @ApiProperty({ type: Number, nullable: true }) max: number | null;
}

/** One bucket of the time series. */
export class StatsBucket {
  @ApiProperty({ ...DATE_TIME, description: 'Start of the bucket.' }) start: string;
  @ApiProperty({ type: 'integer', minimum: 0 }) invocations: number;
  @ApiProperty({ type: 'integer', minimum: 0 }) failures: number;
  @ApiProperty({ type: Number, nullable: true }) p50: number | null;
  @ApiProperty({ type: Number, nullable: true }) p95: number | null;
}

/** The figures of one version (stats with by=version). */
export class VersionStats {
  @ApiProperty({ type: 'integer', minimum: 1 }) version: number;
  @ApiProperty({ type: 'integer', minimum: 0 }) invocations: number;
  @ApiProperty({ type: 'integer', minimum: 0 }) successes: number;
  @ApiProperty({ type: 'integer', minimum: 0 }) failures: number;
  @ApiProperty({ minimum: 0, maximum: 1 }) errorRate: number;
  @ApiProperty({ type: 'integer', minimum: 0 }) coldStarts: number;
  @ApiProperty({ type: () => DurationPercentiles }) durationMs: DurationPercentiles;
}

export class InvocationStats {
  @ApiProperty({ ...UUID })
  functionId: string;

  @ApiProperty({ ...DATE_TIME, nullable: true, description: 'Start of the window; null for since the first invocation.' })
  from: string | null;

  @ApiProperty({ ...DATE_TIME, nullable: true, description: 'End of the window; null for until now.' })
  to: string | null;

  @ApiProperty({ type: 'integer', minimum: 0 })
  invocations: number;

  @ApiProperty({ type: 'integer', minimum: 0 })
  successes: number;

  @ApiProperty({ type: 'integer', minimum: 0 })
  failures: number;

  @ApiProperty({ minimum: 0, maximum: 1, description: 'failures / invocations; 0 without invocations.' })
  errorRate: number;

  @ApiProperty({ type: 'integer', minimum: 0 })
  coldStarts: number;

  @ApiProperty({ type: () => DurationPercentiles })
  durationMs: DurationPercentiles;

  @ApiPropertyOptional({ type: [StatsBucket], description: 'The time series, with bucketSeconds only.' })
  series?: StatsBucket[];

  @ApiPropertyOptional({ type: [VersionStats], description: 'Each version that was invoked, newest first (by=version only).' })
  versions?: VersionStats[];
}
