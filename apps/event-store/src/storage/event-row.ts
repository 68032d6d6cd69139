import { EVENT_STATUSES, EventStatus, EventType, isUuid, PlatformEvent } from '@platform/contracts';

/** One row of events.events as the writer sends it: JSON columns already as JSON text. */
export interface EventRow {
  id: string;
  name: string;
  type: string;
  status: EventStatus;
  /** ISO-8601, always in range for timestamptz. */
  timestamp: string;
  source: string;
  functionId: string | null;
  invocationId: string | null;
  payload: string | null;
  response: string | null;
  processingTimeMs: number | null;
  error: string | null;
  metadata: string | null;
}

/** A message that can never be stored as an event, and why. */
export interface RejectedEvent {
  eventId: string | null;
  reason: string;
  /** The message as JSON text (escapes keep it storable whatever it holds). */
  body: string;
}

export type Admission = { row: EventRow } | { rejected: RejectedEvent };

/** Postgres' jsonb parser recurses; far below its stack limit, far above any real event. */
export const MAX_JSON_DEPTH = 256;
const MAX_NAME_LENGTH = 200;

/** Postgres text cannot hold U+0000; jsonb cannot hold it nor an unpaired surrogate. */
function cleanText(s: string): string {
  return s.replace(/\0|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}

class TooDeep extends Error {}

function cleanJson(value: unknown, depth: number): unknown {
  if (typeof value === 'string') return cleanText(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth >= MAX_JSON_DEPTH) throw new TooDeep();
  if (Array.isArray(value)) return value.map((v) => cleanJson(v, depth + 1));
  // No prototype, so a "__proto__" key in the JSON stays an ordinary key.
  const out: Record<string, unknown> = Object.create(null);
  for (const [k, v] of Object.entries(value)) out[cleanText(k)] = cleanJson(v, depth + 1);
  return out;
}

/**
 * Any JSON value -> JSON text jsonb accepts (a bare string such as "ok" becomes the JSON string
 * "\"ok\"", so it stores). null/undefined -> SQL NULL.
 */
export function toJsonb(value: unknown): string | null {
  if (value === undefined || value === null) return null;
  return JSON.stringify(cleanJson(value, 0)) ?? null;
}

/** Postgres timestamptz covers more, but four-digit years are what ISO-8601 text round-trips. */
export function toInstant(value: unknown): string | null {
  if (typeof value !== 'string' && typeof value !== 'number') return null;
  const ms = typeof value === 'number' ? value : Date.parse(value);
  if (!Number.isFinite(ms)) return null;
  const d = new Date(ms);
  const year = d.getUTCFullYear();
  if (year < 1 || year > 9999) return null;
  return d.toISOString();
}

function reject(value: unknown, reason: string, eventId: string | null = null): Admission {
  let body: string;
  try {
    body = JSON.stringify(value) ?? 'null';
  } catch {
    body = String(value);
  }
  return { rejected: { eventId, reason, body: cleanText(body) } };
}

function optionalText(v: unknown): string | null | undefined {
  if (v === undefined || v === null) return null;
  return typeof v === 'string' ? cleanText(v) : undefined;
}

/**
 * Checks that a message is an event the table can hold, and turns it into a row. Everything the
 * database would refuse is caught here, so one bad message cannot fail (and so block) its batch.
 */
export function admitEvent(value: unknown): Admission {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return reject(value, 'the message is not a JSON object');
  const e = value as Record<string, unknown>;
  if (!isUuid(e.id)) {
    const given = typeof e.id === 'string' ? cleanText(e.id).slice(0, MAX_NAME_LENGTH) : null;
    return reject(value, e.id == null ? 'the event has no id' : 'the event id is not a UUID', given);
  }
  const id = e.id.toLowerCase();
  const no = (why: string) => reject(value, why, id);

  if (typeof e.name !== 'string' || e.name.trim() === '' || e.name.length > MAX_NAME_LENGTH)
    return no(`name must be a non-empty string of at most ${MAX_NAME_LENGTH} characters (the routing key)`);
  if (typeof e.type !== 'string' || e.type.trim() === '' || e.type.length > MAX_NAME_LENGTH)
    return no(`type must be a non-empty string of at most ${MAX_NAME_LENGTH} characters`);
  if (!EVENT_STATUSES.includes(e.status as EventStatus)) return no(`status must be one of ${EVENT_STATUSES.join(', ')}`);
  const timestamp = toInstant(e.timestamp);
  if (!timestamp) return no('timestamp must be an ISO-8601 date-time between the years 0001 and 9999');
  const source = optionalText(e.source);
  if (source === undefined) return no('source must be a string');
  if (e.functionId != null && !isUuid(e.functionId)) return no('functionId must be a UUID or null');
  if (e.invocationId != null && !isUuid(e.invocationId)) return no('invocationId must be a UUID or null');
  if (e.processingTimeMs != null && !(typeof e.processingTimeMs === 'number' && Number.isFinite(e.processingTimeMs)))
    return no('processingTimeMs must be a number or null');
  const error = optionalText(e.error);
  if (error === undefined) return no('error must be a string or null');
  if (e.metadata != null && (typeof e.metadata !== 'object' || Array.isArray(e.metadata))) return no('metadata must be an object or null');

  try {
    return {
      row: {
        id,
        name: cleanText(e.name),
        type: cleanText(e.type),
        status: e.status as EventStatus,
        timestamp,
        source: source ?? 'unknown',
        functionId: (e.functionId as string | null | undefined)?.toLowerCase() ?? null,
        invocationId: (e.invocationId as string | null | undefined)?.toLowerCase() ?? null,
        payload: toJsonb(e.payload),
        response: toJsonb(e.response),
        processingTimeMs: (e.processingTimeMs as number | null | undefined) ?? null,
        error,
        metadata: toJsonb(e.metadata),
      },
    };
  } catch (err) {
    if (err instanceof TooDeep) return no(`payload, response or metadata nests deeper than ${MAX_JSON_DEPTH} levels`);
    throw err;
  }
}

/** Columns as `SELECT` returns them (pg parses jsonb and float8; timestamptz arrives as Date). */
export interface StoredEventRow {
  id: string;
  name: string;
  type: string;
  status: EventStatus;
  timestamp: Date;
  source: string;
  function_id: string | null;
  invocation_id: string | null;
  payload: unknown;
  response: unknown;
  processing_time_ms: number | null;
  error: string | null;
  metadata: Record<string, unknown> | null;
}

export const EVENT_COLUMNS = 'id, name, type, status, timestamp, source, function_id, invocation_id, payload, response, processing_time_ms, error, metadata';

export function toPlatformEvent(r: StoredEventRow): PlatformEvent {
  return {
    id: r.id,
    name: r.name,
    type: r.type as EventType,
    status: r.status,
    timestamp: r.timestamp.toISOString(),
    source: r.source,
    functionId: r.function_id,
    invocationId: r.invocation_id,
    payload: r.payload,
    response: r.response,
    processingTimeMs: r.processing_time_ms,
    error: r.error,
    metadata: r.metadata,
  };
}
