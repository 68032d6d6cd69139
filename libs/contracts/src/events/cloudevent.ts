import { EVENT_STATUSES, EventNames, EventStatus, PlatformEvent } from './event';
import { PLATFORM_CLOUDEVENT_TYPE_PREFIX } from './event-types';

/**
 * The wire format of events on the bus: CloudEvents 1.0, JSON event format, structured content mode
 * of the AMQP binding (one event per message, the whole CloudEvent as the body). Structured rather than
 * binary mode because a plain consumer then needs only JSON.parse, the spool and the SSE stream keep
 * the same text, and AMQP header tables would turn nulls and numbers into their own types.
 *
 * Attributes:
 *  - `type`: `dev.hks.<event name>` for the platform's own events (`dev.hks.invocation.succeeded`), the
 *    user's type verbatim for custom ones (`com.shop.order.placed`)
 *  - `source`: `/hks/<service>` for the platform's events, the user's source for custom ones
 *  - `subject`: the function's label when the event concerns a function
 *  - extensions `functionid`, `invocationid`, `status` for filtering
 *  - `data`: the rest of the PlatformEvent, so that fromCloudEvent(toCloudEvent(e)) equals e.
 */
export const CLOUDEVENTS_SPEC_VERSION = '1.0';
export const CLOUDEVENT_CONTENT_TYPE = 'application/cloudevents+json; charset=utf-8';
export const CLOUDEVENT_DATA_CONTENT_TYPE = 'application/json';
/** The routing-key word (and SSE filter) for an event that concerns no function. */
export const NO_FUNCTION_WORD = '_';

/** What `data` holds: every field of the PlatformEvent that no attribute carries. */
export interface PlatformEventData {
  /** The platform's category of its own events (FUNCTION_INVOCATION, FUNCTION_BUILD ...); a custom event's type is the CloudEvent's. */
  type?: string;
  payload: unknown;
  response: unknown;
  processingTimeMs: number | null;
  error: string | null;
  metadata: Record<string, unknown> | null;
  /** The PlatformEvent's source, only when the `source` attribute cannot carry it as it is (not a URI reference). */
  source?: string;
}

export interface PlatformCloudEvent {
  specversion: typeof CLOUDEVENTS_SPEC_VERSION;
  id: string;
  source: string;
  type: string;
  time: string;
  subject?: string;
  datacontenttype: typeof CLOUDEVENT_DATA_CONTENT_TYPE;
  functionid?: string;
  invocationid?: string;
  status: EventStatus;
  data: PlatformEventData;
}

/** A message that is not a CloudEvent this platform can read; `reason` says what is wrong with it. */
export class InvalidCloudEventError extends Error {
  constructor(readonly reason: string) {
    super(`not a valid CloudEvent: ${reason}`);
    this.name = 'InvalidCloudEventError';
  }
}

const SAFE = "A-Za-z0-9\\-._~!$&'()*+,;=:@/";
/**
 * A conservative URI reference (RFC 3986): an optional scheme, then only characters that need no
 * escape, no `:` in a scheme-less first segment, at most one `?` part and one `#` part. No `%`, so a
 * source that passes is never re-read as escaped.
 */
const URI_REFERENCE = new RegExp(`^(?:[A-Za-z][A-Za-z0-9+.-]*:|(?![^/?#]*:))[${SAFE}]*(?:\\?[${SAFE}?]*)?(?:#[${SAFE}?]*)?$`);
const SERVICE_NAME = /^[A-Za-z0-9._~-]+$/;
const PLATFORM_SOURCE_PREFIX = '/hks/';

function escaped(text: string): string {
  // encodeURIComponent refuses lone surrogates; they could not be stored either.
  return encodeURIComponent(text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD')) || 'unknown';
}

function isPlatformEvent(e: PlatformEvent): boolean {
  return e.name !== EventNames.EventCreated;
}

/** The `source` attribute, and whether `data.source` must carry the original. */
function sourceAttribute(e: PlatformEvent): { source: string; exact: boolean } {
  const source = typeof e.source === 'string' ? e.source : '';
  if (isPlatformEvent(e)) {
    return SERVICE_NAME.test(source)
      ? { source: PLATFORM_SOURCE_PREFIX + source, exact: true }
      : { source: PLATFORM_SOURCE_PREFIX + escaped(source), exact: false };
  }
  return source !== '' && URI_REFERENCE.test(source) ? { source, exact: true } : { source: escaped(source), exact: false };
}

/** The CloudEvent of a PlatformEvent, as published, spooled and streamed. */
export function toCloudEvent(e: PlatformEvent): PlatformCloudEvent {
  // Built field by field rather than with spreads: it runs for every event on the invoker's hot path.
  const platform = isPlatformEvent(e);
  const { source, exact } = sourceAttribute(e);
  const data = {} as PlatformEventData;
  if (platform) data.type = e.type;
  data.payload = e.payload ?? null;
  data.response = e.response ?? null;
  data.processingTimeMs = e.processingTimeMs ?? null;
  data.error = e.error ?? null;
  data.metadata = e.metadata ?? null;
  if (!exact) data.source = e.source;
  const ce = {
    specversion: CLOUDEVENTS_SPEC_VERSION,
    id: e.id,
    source,
    type: platform ? PLATFORM_CLOUDEVENT_TYPE_PREFIX + e.name : e.type,
    time: e.timestamp,
  } as PlatformCloudEvent;
  if (e.functionLabel) ce.subject = e.functionLabel;
  ce.datacontenttype = CLOUDEVENT_DATA_CONTENT_TYPE;
  if (e.functionId) ce.functionid = e.functionId;
  if (e.invocationId) ce.invocationid = e.invocationId;
  ce.status = e.status;
  ce.data = data;
  return ce;
}

function nonEmptyString(ce: Record<string, unknown>, attribute: string): string {
  const v = ce[attribute];
  if (typeof v !== 'string' || v === '') throw new InvalidCloudEventError(`${attribute} must be a non-empty string`);
  return v;
}

function optionalString(ce: Record<string, unknown>, attribute: string): string | null {
  const v = ce[attribute];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string' || v === '') throw new InvalidCloudEventError(`${attribute} must be a non-empty string when present`);
  return v;
}

function decodedPlatformSource(source: string): string {
  if (!source.startsWith(PLATFORM_SOURCE_PREFIX)) return source;
  return source.slice(PLATFORM_SOURCE_PREFIX.length);
}

/**
 * The PlatformEvent a CloudEvent stands for (structured JSON, already parsed). Throws
 * InvalidCloudEventError for anything that is not a CloudEvent 1.0 in the shape toCloudEvent makes;
 * whether its fields make a storable event is the event store's to judge.
 */
export function fromCloudEvent(value: unknown): PlatformEvent {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidCloudEventError('the message is not a JSON object');
  const ce = value as Record<string, unknown>;
  if (ce.specversion !== CLOUDEVENTS_SPEC_VERSION) throw new InvalidCloudEventError(`specversion must be "${CLOUDEVENTS_SPEC_VERSION}"`);
  const id = nonEmptyString(ce, 'id');
  const source = nonEmptyString(ce, 'source');
  const type = nonEmptyString(ce, 'type');
  const time = nonEmptyString(ce, 'time');
  if (Number.isNaN(Date.parse(time))) throw new InvalidCloudEventError('time must be an RFC 3339 date-time');
  if (
    ce.datacontenttype !== undefined &&
    ce.datacontenttype !== CLOUDEVENT_DATA_CONTENT_TYPE &&
    !String(ce.datacontenttype).startsWith(`${CLOUDEVENT_DATA_CONTENT_TYPE};`)
  )
    throw new InvalidCloudEventError(`datacontenttype must be ${CLOUDEVENT_DATA_CONTENT_TYPE}`);
  if (ce.data_base64 !== undefined) throw new InvalidCloudEventError('data_base64 is not read here: data must be JSON');
  const data = ce.data ?? {};
  if (typeof data !== 'object' || data === null || Array.isArray(data))
    throw new InvalidCloudEventError('data must be a JSON object with the event fields (payload, response, processingTimeMs, error, metadata)');
  const d = data as Partial<PlatformEventData>;
  const status = ce.status ?? 'SUCCESS';
  if (!EVENT_STATUSES.includes(status as EventStatus)) throw new InvalidCloudEventError(`status must be one of ${EVENT_STATUSES.join(', ')}`);

  const platform = type.startsWith(PLATFORM_CLOUDEVENT_TYPE_PREFIX);
  if (platform && type.length === PLATFORM_CLOUDEVENT_TYPE_PREFIX.length) throw new InvalidCloudEventError(`type ${type} names no event`);
  const label = optionalString(ce, 'subject');
  return {
    id,
    name: platform ? type.slice(PLATFORM_CLOUDEVENT_TYPE_PREFIX.length) : EventNames.EventCreated,
    type: (platform ? d.type : type) as PlatformEvent['type'],
    status: status as EventStatus,
    timestamp: time,
    source: typeof d.source === 'string' ? d.source : platform ? decodedPlatformSource(source) : source,
    functionId: optionalString(ce, 'functionid'),
    invocationId: optionalString(ce, 'invocationid'),
    payload: d.payload ?? null,
    response: d.response ?? null,
    processingTimeMs: d.processingTimeMs ?? null,
    error: d.error ?? null,
    metadata: d.metadata ?? null,
    ...(label ? { functionLabel: label } : {}),
  };
}

/** The word of a routing key that says which function an event concerns. */
function functionWord(label: string | null | undefined): string {
  // A label never holds a dot (LABEL_PATTERN); anything else that would split or widen a topic word is not a label.
  return label && !/[.*#]/.test(label) ? label : NO_FUNCTION_WORD;
}

/**
 * The routing key of an event: `<event name>.<function label>` (`invocation.failed.my-fn`,
 * `apikey.revoked._`), and `event.<custom type>.<label>` for a custom event (`event.com.shop.order.placed._`).
 */
export function routingKeyOf(e: PlatformEvent): string {
  const fn = functionWord(e.functionLabel);
  return isPlatformEvent(e) ? `${e.name}.${fn}` : `event.${e.type}.${fn}`;
}

/** Binding for one kind of the platform's events, of every function (`label` = `*`) or of one. */
export function eventBinding(name: string, label = '*'): string {
  return `${name}.${label}`;
}

/** Binding for custom events: all of them (`#`), or of one type (`com.shop.order.placed`) for any function. */
export function customEventBinding(type = '#'): string {
  return type === '#' ? 'event.#' : `event.${type}.*`;
}

/** Binding for every event on the exchange. */
export const ALL_EVENTS_BINDING = '#';
