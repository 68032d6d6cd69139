import { createHash, randomUUID } from 'crypto';
import type { SourceEvent } from './types';

const CE_ATTRIBUTES = ['id', 'source', 'type', 'time', 'subject', 'datacontenttype', 'dataschema', 'specversion'];
const EXTENSION_NAME = /^[a-z0-9]{1,20}$/;

export interface PlainMessage {
  /** The system's own id of the message where it has one that survives a redelivery (Kafka offset, stream seq). */
  id?: string;
  kind: string;
  /** Queue, subject, topic or bucket the message came from. */
  from: string;
  subject?: string;
  time?: Date;
  contentType?: string;
  body: Buffer;
  /** Headers / properties of the message (CloudEvents binary mode is read from them). */
  headers?: Record<string, unknown>;
  /** Extension attributes to add (names lower-case alphanumeric). */
  extensions?: Record<string, string | number | boolean>;
}

function headerText(v: unknown): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (Buffer.isBuffer(v)) return v.toString('utf8');
  if (Array.isArray(v)) return headerText(v[0]);
  return String(v);
}

function isJsonType(contentType: string | undefined): boolean {
  if (!contentType) return false;
  const t = contentType.split(';')[0].trim().toLowerCase();
  return t === 'application/json' || t === 'text/json' || t.endsWith('+json');
}

/** The body as text, or undefined when it is not valid UTF-8. */
function utf8(body: Buffer): string | undefined {
  const text = body.toString('utf8');
  return Buffer.from(text, 'utf8').equals(body) ? text : undefined;
}

/** CloudEvents binary-mode attributes in headers: ce-*, ce_*, cloudEvents:* and cloudEvents_* (AMQP). */
function binaryAttributes(headers: Record<string, unknown>): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const m = /^(?:ce[-_]|cloudevents[:_])([a-z0-9]+)$/i.exec(name);
    const text = headerText(value);
    if (m && text !== undefined) out[m[1].toLowerCase()] = text;
  }
  return out.type && out.id && out.source ? out : undefined;
}

/**
 * A message as the handler's event. A message that is a CloudEvent (structured: its content type is
 * application/cloudevents+json; binary: ce-* headers) is that event; any other is wrapped: data is the body as text.
 */
export function messageEvent(m: PlainMessage): SourceEvent {
  const headers = m.headers ?? {};
  const contentType = m.contentType ?? headerText(headers['content-type'] ?? headers['Content-Type']);
  const structured = contentType?.toLowerCase().startsWith('application/cloudevents+json');
  if (structured) {
    const text = utf8(m.body);
    try {
      const parsed = text === undefined ? undefined : (JSON.parse(text) as Record<string, unknown>);
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed) && parsed.type && parsed.source) {
        return { ...parsed, specversion: '1.0', id: String(parsed.id ?? m.id ?? randomUUID()) } as SourceEvent;
      }
    } catch {
      // Not a CloudEvent after all: wrapped as a plain message below.
    }
  }
  const binary = binaryAttributes(headers);
  const event: SourceEvent = binary
    ? { ...extensionsOf(binary), specversion: '1.0', id: binary.id, source: binary.source, type: binary.type }
    : {
        specversion: '1.0',
        id: m.id ?? randomUUID(),
        source: `hks://${m.kind}/${m.from}`,
        type: `hks.${m.kind}.message`,
      };
  if (binary?.time) event.time = binary.time;
  else event.time = (m.time ?? new Date()).toISOString();
  const subject = binary?.subject ?? m.subject;
  if (subject !== undefined) event.subject = subject;
  const dataType = binary?.datacontenttype ?? contentType;
  if (dataType) event.datacontenttype = dataType;
  const text = utf8(m.body);
  if (text === undefined) event.data_base64 = m.body.toString('base64');
  else if (binary && isJsonType(dataType)) {
    try {
      event.data = JSON.parse(text);
    } catch {
      event.data = text;
    }
  } else event.data = text;
  for (const [k, v] of Object.entries(m.extensions ?? {})) if (EXTENSION_NAME.test(k) && !(k in event)) event[k] = v;
  return event;
}

function extensionsOf(attributes: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(attributes)) if (!CE_ATTRIBUTES.includes(k) && EXTENSION_NAME.test(k)) out[k] = v;
  return out;
}

/** Several events handed to one invocation (deliver: batch). */
export function batchEvent(events: SourceEvent[], source: string): SourceEvent {
  return {
    specversion: '1.0',
    id: createHash('sha256')
      .update(events.map((e) => e.id).join('\n'))
      .digest('hex')
      .slice(0, 32),
    source,
    type: 'hks.batch',
    // From its messages (ids, times): the same batch delivered again is the same invocation, with the same request.
    ...(events.some((e) => e.time)
      ? {
          time: events
            .map((e) => e.time ?? '')
            .sort()
            .at(-1),
        }
      : {}),
    datacontenttype: 'application/json',
    data: events.map((e) => (e.data !== undefined ? e.data : e.data_base64)),
    events,
  };
}
