import { createHash } from 'crypto';
import { isUuid } from '../uuid';
import { EVENT_STATUSES, EventNames, EventStatus, newEvent, PlatformEvent } from './event';
import { customEventTypeProblem } from './event-types';

/**
 * What POST /api/v3/events accepts besides its own JSON body: the CloudEvents 1.0 HTTP binding, in structured
 * mode (`application/cloudevents+json`: one CloudEvent as the body), binary mode (the attributes as `ce-*`
 * headers, the data as the body) and batched mode (`application/cloudevents-batch+json`: a JSON array of
 * CloudEvents, all accepted or all refused). Each CloudEvent becomes the PlatformEvent the gateway publishes.
 */
export const CLOUDEVENT_MEDIA_TYPE = 'application/cloudevents+json';
export const CLOUDEVENT_BATCH_MEDIA_TYPE = 'application/cloudevents-batch+json';
/** Events one batch may hold: a batch is validated and published at once, and answered with every event. */
export const MAX_POSTED_BATCH = 1000;
/** The `source` of a posted event (as CreateEventDto allows it). */
export const MAX_SOURCE_LENGTH = 200;

/** The attributes this platform reads; anything else is an extension, kept in the event's metadata. */
const CONTEXT_ATTRIBUTES = new Set(['specversion', 'id', 'source', 'type', 'time', 'subject', 'dataschema', 'datacontenttype', 'data', 'functionid', 'status']);
/** CloudEvents 1.0: attribute names are lowercase letters and digits, at most 20 of them. */
const ATTRIBUTE_NAME = /^[a-z0-9]{1,20}$/;
/** RFC 3339 (what CloudEvents' `time` is): a full date, a time and an offset. */
const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
/** Namespace of the UUIDv5 ids of CloudEvents whose own id is not a UUID (any fixed UUID would do). */
const CLOUDEVENT_ID_NAMESPACE = '5b1f7c1e-9d3a-4c8e-a6b2-0f4d3e2c1b7a';

/** A posted CloudEvent this platform cannot take; `reason` says what to change. */
export class PostedEventError extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'PostedEventError';
  }
}

/** The fields a user gives a posted event, whatever the form it came in. */
export interface PostedEventFields {
  type: string;
  source?: string;
  status?: EventStatus;
  functionId?: string | null;
  payload?: unknown;
  id?: string;
  timestamp?: string;
  metadata?: Record<string, unknown> | null;
}

/** The event the platform records for a post: a new id and the time now unless the CloudEvent gave its own. */
export function postedEvent(f: PostedEventFields): PlatformEvent {
  return newEvent({
    name: EventNames.EventCreated,
    type: f.type,
    status: f.status ?? 'SUCCESS',
    source: f.source ?? 'api',
    functionId: f.functionId ?? null,
    payload: f.payload ?? null,
    metadata: f.metadata ?? null,
    ...(f.id ? { id: f.id } : {}),
    ...(f.timestamp ? { timestamp: f.timestamp } : {}),
  });
}

/**
 * The event id of a CloudEvent: its own id when that is a UUID, else a UUIDv5 of its source and id. CloudEvents
 * says source + id identify an event, so a producer that sends the same event again (a retry) gets the same
 * event id, and the event store, which inserts by id, keeps it once.
 */
export function eventIdOf(source: string, id: string): string {
  if (isUuid(id)) return id.toLowerCase();
  const ns = Buffer.from(CLOUDEVENT_ID_NAMESPACE.replace(/-/g, ''), 'hex');
  const hash = createHash('sha1').update(ns).update(`${source}\n${id}`, 'utf8').digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function requiredString(ce: Record<string, unknown>, name: string, what: string): string {
  const v = ce[name];
  if (typeof v !== 'string' || v === '') throw new PostedEventError(`${name} is required: ${what}`);
  return v;
}

function optionalString(ce: Record<string, unknown>, name: string): string | undefined {
  const v = ce[name];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new PostedEventError(`${name} must be a string`);
  return v;
}

/** ISO-8601 of an RFC 3339 time, or why it is not one the event store can keep. */
function instantOf(time: string): string {
  const ms = Date.parse(time);
  const year = new Date(ms).getUTCFullYear();
  if (!RFC3339.test(time) || !Number.isFinite(ms) || year < 1 || year > 9999)
    throw new PostedEventError(`time ${JSON.stringify(time)} is not an RFC 3339 date-time (e.g. 2026-01-31T12:00:00Z) between the years 0001 and 9999`);
  return new Date(ms).toISOString();
}

/**
 * The fields of the event a posted CloudEvent (structured JSON, or the attributes of binary mode with `data`)
 * stands for. Throws PostedEventError naming the first problem. Required: specversion 1.0, id, source, and a
 * type a user may post (the same rule as the JSON form). Read: time, the extensions `functionid` and `status`, and
 * `data` (any JSON value: the payload). Kept in metadata.cloudEvent: an id that is not a UUID, subject, dataschema,
 * datacontenttype and every other extension.
 */
export function readPostedCloudEvent(value: unknown): PostedEventFields {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new PostedEventError('a CloudEvent must be a JSON object');
  const ce = value as Record<string, unknown>;
  if (ce.specversion !== '1.0') throw new PostedEventError(`specversion must be "1.0" (CloudEvents 1.0), not ${JSON.stringify(ce.specversion ?? null)}`);
  const id = requiredString(ce, 'id', 'a non-empty string that, with source, identifies the event');
  const source = requiredString(ce, 'source', 'a non-empty URI reference saying who produced the event');
  if (source.length > MAX_SOURCE_LENGTH) throw new PostedEventError(`source must be at most ${MAX_SOURCE_LENGTH} characters (it has ${source.length})`);
  const typeProblem = customEventTypeProblem(ce.type);
  if (typeProblem) throw new PostedEventError(typeProblem);
  const time = optionalString(ce, 'time');
  const functionId = optionalString(ce, 'functionid');
  if (functionId !== undefined && !isUuid(functionId)) throw new PostedEventError('functionid must be a UUID (the function this event concerns)');
  const status = ce.status ?? undefined;
  if (status !== undefined && !EVENT_STATUSES.includes(status as EventStatus)) throw new PostedEventError(`status must be one of ${EVENT_STATUSES.join(', ')}`);
  if ('data_base64' in ce) throw new PostedEventError('data_base64 is not accepted: send the data as JSON in "data" (or as text in binary mode)');

  const kept: Record<string, unknown> = {};
  if (!isUuid(id)) kept.id = id;
  for (const name of ['subject', 'dataschema', 'datacontenttype']) {
    const v = optionalString(ce, name);
    if (v !== undefined) kept[name] = v;
  }
  for (const [name, v] of Object.entries(ce)) {
    if (CONTEXT_ATTRIBUTES.has(name)) continue;
    if (!ATTRIBUTE_NAME.test(name))
      throw new PostedEventError(`${JSON.stringify(name)} is not a CloudEvents attribute name (lowercase letters and digits, at most 20)`);
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean')
      throw new PostedEventError(`extension ${name} must be a string, number or boolean`);
    kept[name] = v;
  }
  return {
    id: eventIdOf(source, id),
    type: ce.type as string,
    source,
    status: status as EventStatus | undefined,
    functionId: functionId?.toLowerCase() ?? null,
    timestamp: time === undefined ? undefined : instantOf(time),
    payload: ce.data ?? null,
    metadata: Object.keys(kept).length ? { cloudEvent: kept } : null,
  };
}

/**
 * The attributes of a binary-mode CloudEvent: every `ce-<name>` header, percent-decoded as the HTTP binding
 * says; the body's content type is `datacontenttype`. Undefined when the request is not in binary mode.
 */
export function binaryCloudEventAttributes(headers: Record<string, string | string[] | undefined>): Record<string, unknown> | undefined {
  if (headers['ce-specversion'] === undefined) return undefined;
  const ce: Record<string, unknown> = {};
  for (const [header, raw] of Object.entries(headers)) {
    if (!header.startsWith('ce-') || raw === undefined) continue;
    const name = header.slice(3);
    const text = Array.isArray(raw) ? raw.join(',') : raw;
    let value: string;
    try {
      value = decodeURIComponent(text);
    } catch {
      throw new PostedEventError(`header ${header} has an invalid percent-encoding`);
    }
    if (name === 'data' || name === 'data_base64') throw new PostedEventError(`header ${header} is not an attribute: in binary mode the data is the body`);
    ce[name] = value;
  }
  const contentType = headers['content-type'];
  if (typeof contentType === 'string' && contentType !== '') ce.datacontenttype = contentType;
  return ce;
}
