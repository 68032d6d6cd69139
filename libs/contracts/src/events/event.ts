import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsOptional, IsString, IsUUID, MaxLength } from 'class-validator';
import { randomUUID } from 'crypto';
import { WholeNumber } from '../functions/validators';
import { EVENT_TYPE_MAX_LENGTH, EVENT_TYPE_PATTERN, IsCustomEventType, IsEventType } from './event-types';

/** The event exchange (topic): one CloudEvent per message, routing keys from routingKeyOf (cloudevent.ts). */
export function eventExchange(namespace: string): string {
  return `${namespace}.events`;
}

export const EVENT_TYPES = [
  'FUNCTION_INVOCATION',
  'USER_CREATED',
  'ORDER_PLACED',
  'PAYMENT_PROCESSED',
  'ITEM_SHIPPED',
  'OTHER',
  // The platform's own lifecycle.
  'FUNCTION_CREATED',
  'FUNCTION_UPDATED',
  'FUNCTION_DELETED',
  'FUNCTION_BUILD',
  'FUNCTION_DEPLOYMENT',
  'API_KEY',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/** Types a user may create through POST /api/v3/events (the rest are the platform's own). */
export const USER_EVENT_TYPES: EventType[] = ['USER_CREATED', 'ORDER_PLACED', 'PAYMENT_PROCESSED', 'ITEM_SHIPPED', 'OTHER'];

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
export interface PlatformEvent {
  /** uuid; the idempotency key of the event store. */
  id: string;
  /** What happened (`invocation.succeeded`); the first words of the routing key. */
  name: EventName | string;
  /** One of EVENT_TYPES, or a custom type (event-types.ts) for an event a user posted. */
  type: EventType | (string & Record<never, never>);
  status: EventStatus;
  /** ISO-8601. */
  timestamp: string;
  /** Service or client that produced it (e.g. "invoker", "api"). */
  source: string;
  functionId: string | null;
  /** Links an invocation's PENDING event to its SUCCESS/FAILURE event. */
  invocationId: string | null;
  payload: unknown;
  response: unknown;
  processingTimeMs: number | null;
  error: string | null;
  /** Extra facts: cold start, start time, logs, build digest ... */
  metadata?: Record<string, unknown> | null;
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

  @ApiPropertyOptional({ example: { orderId: 42 }, description: 'Any JSON value.' })
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

  @ApiPropertyOptional({ description: 'Only the PENDING and result events of this invocation.' })
  @IsOptional()
  @IsUUID('all', { message: 'invocationId must be a UUID' })
  invocationId?: string;

  @ApiPropertyOptional({ description: 'Only events of this type: one of the platform\'s (FUNCTION_INVOCATION ...) or a custom one.', maxLength: EVENT_TYPE_MAX_LENGTH, example: 'FUNCTION_INVOCATION' })
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

export interface EventPage {
  items: PlatformEvent[];
  total: number;
  page: number;
  limit: number;
}

/** Aggregates over a function's invocation results (for `hks function stats|metrics`). */
export interface InvocationStatsQuery {
  functionId: string;
  from?: string;
  to?: string;
  /** Bucket width for the time series, in seconds; omitted = no series. */
  bucketSeconds?: number;
}

export interface InvocationStats {
  functionId: string;
  from: string | null;
  to: string | null;
  invocations: number;
  successes: number;
  failures: number;
  errorRate: number;
  coldStarts: number;
  durationMs: { p50: number | null; p90: number | null; p95: number | null; p99: number | null; avg: number | null; max: number | null };
  series?: Array<{ start: string; invocations: number; failures: number; p50: number | null; p95: number | null }>;
}
