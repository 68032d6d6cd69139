import type { Trigger } from '@platform/contracts';
import { descriptorOf, FieldSpec, fieldProblem, RETRY_FIELDS, SourceDescriptor, SOURCES, sourceProblem } from '@platform/sources';
import { isSeq } from 'yaml';
import { formatDurationLimit, parseDurationMs } from './units';
import { Located, show, YamlReader } from './yaml-reader';

/*
 * A trigger in function.yaml, read through its event source's descriptor (@platform/sources): the descriptor's
 * fields name the keys (`yaml`, `yamlAliases`), their types say how a value is read ("5s" -> 5000 for a duration),
 * and the descriptor's own checks (fieldProblem, sourceProblem) judge the result, so the CLI refuses what the API
 * would, in the API's words, before anything is sent. Two spellings:
 *
 *   - type: queue                  - queue: {source: order-events, batch_size: 10}
 *     source: order-events         - http        (the kind alone: its defaults)
 *     batch_size: 10
 */

const EXAMPLE = 'e.g. "- type: http" or "- schedule: {cron: \'0 * * * *\'}"';

/** "http, queue (or rabbitmq, amqp), ...": every kind with its aliases, for messages. */
function kindList(): string {
  return SOURCES.map((d) => (d.aliases?.length ? `${d.kind} (or ${d.aliases.join(', ')})` : d.kind)).join(', ');
}

/** "source (or queue), url, ...": the keys a kind (or retry) takes, for messages. */
function keyList(fields: readonly FieldSpec[], withType: boolean): string {
  const keys = fields.map((f) => (f.yamlAliases?.length ? `${f.yaml} (or ${f.yamlAliases.join(', ')})` : f.yaml));
  return (withType ? ['type', ...keys] : keys).join(', ');
}

function fieldOf(fields: readonly FieldSpec[], key: string): FieldSpec | undefined {
  return fields.find((f) => f.yaml === key || f.yamlAliases?.includes(key));
}

const keyAt = (at: Located): Located => ({ ...at, node: at.keyNode ?? at.node });

/** One item of `triggers:` -> the trigger as the API takes it (`type` the descriptor's kind). */
export function readTrigger(r: YamlReader, item: Located, index: number): Trigger {
  if (r.isNull(item)) r.fail(item, `empty trigger; ${EXAMPLE}`);
  if (!r.isMapping(item)) {
    // "- http": the kind alone.
    const kind = String(r.scalar(item));
    const d = descriptorOf(kind) ?? r.fail(item, `${show(kind)} is not a trigger type (${kindList()})`);
    return readFields(r, d, item, index, new Map(), false);
  }
  const entries = r.entries(item);
  const typeAt = entries.get('type');
  if (typeAt) {
    const type = r.isNull(typeAt) ? '' : String(r.scalar(typeAt));
    const d = descriptorOf(type) ?? r.fail(typeAt, `${show(type || null)} is not a trigger type (${kindList()})`);
    const fields = new Map(entries);
    fields.delete('type');
    return readFields(r, d, item, index, fields, true);
  }
  // The short form: one key, the kind, whose value holds the fields.
  const [first] = entries.values();
  if (entries.size !== 1) r.fail(keyAt([...entries.values()][1]), `a trigger names its kind once, with "type: <kind>" or as its only key; ${EXAMPLE}`);
  const [kind] = entries.keys();
  const d =
    descriptorOf(kind) ?? r.fail(keyAt(first), `${show(kind)} is not a trigger type; write "- type: <kind>" or "- <kind>: {...}" with one of ${kindList()}`);
  const fields = r.isNull(first) ? new Map<string, Located>() : r.entries(first);
  // This form has always let an event trigger name its event type with `type` (`- event: {type: ORDER_PLACED}`).
  const eventType = d.kind === 'event' ? fields.get('type') : undefined;
  if (eventType) {
    fields.delete('type');
    if (fields.has('event_type')) r.fail(keyAt(eventType), "'type' and 'event_type' both name the event type; write it once");
    fields.set('event_type', eventType);
  }
  return readFields(r, d, item, index, fields, false);
}

function readFields(r: YamlReader, d: SourceDescriptor, item: Located, index: number, fields: Map<string, Located>, typed: boolean): Trigger {
  const out: Record<string, unknown> = { type: d.kind };
  const located = new Map<string, Located>();
  const used = new Map<string, string>();
  for (const [key, at] of fields) {
    const f = fieldOf(d.fields, key);
    if (!f) r.fail(keyAt(at), `trigger ${index} (${d.kind}) has no key ${show(key)}; it takes ${keyList(d.fields, typed)}`);
    const before = used.get(f.key);
    if (before !== undefined) r.fail(keyAt(at), `${show(key)} is another name for ${show(before)}; write it once`);
    used.set(f.key, key);
    located.set(f.key, at);
    if (!r.isNull(at)) out[f.key] = readValue(r, f, at, `${d.kind} trigger ${key}`);
  }
  for (const f of d.fields) {
    if (f.required && out[f.key] === undefined) r.fail(item, `${d.kind} trigger needs "${f.yaml}": ${f.description}`);
  }
  // What is left are the kind's rules across fields (a cron that does not parse, a path with ".."): the API's
  // message, with function.yaml's key names, at the line of the field it names.
  const problem = sourceProblem(out);
  if (problem) {
    const named = d.fields.find((f) => new RegExp(`^${d.kind} trigger ${f.key}\\b`).test(problem));
    const words = problem.replace(/\b[a-z]+[A-Z]\w*\b/g, (word) => d.fields.find((f) => f.key === word)?.yaml ?? word);
    r.fail((named && located.get(named.key)) ?? item, words);
  }
  return out as unknown as Trigger;
}

/** A value as its field's type wants it; `where` names it as the API would ("queue trigger batch_size"). */
function readValue(r: YamlReader, f: FieldSpec, at: Located, where: string): unknown {
  let value: unknown;
  switch (f.type) {
    case 'string':
    case 'url':
    case 'enum': {
      const v = r.scalar(at);
      // A name of digits (`group: 42`) is still a name.
      value = typeof v === 'number' ? String(v) : v;
      break;
    }
    case 'int': {
      const v = r.scalar(at);
      value = typeof v === 'string' && /^\s*-?\d+\s*$/.test(v) ? Number(v) : v;
      break;
    }
    case 'bool': {
      const v = r.scalar(at);
      value = typeof v === 'string' && /^(true|false)$/i.test(v) ? v.toLowerCase() === 'true' : v;
      break;
    }
    case 'duration':
      return readDuration(r, f, at, where);
    case 'strings':
      // One value is a list of one (`topic: orders` for topics).
      value = r.isMapping(at) ? r.fail(at, `${where} must be a list of strings`) : (isSeq(at.node) ? r.items(at) : [at]).map((item) => text(r, item));
      break;
    case 'json':
      return r.plain(at);
    case 'retry':
      return readRetry(r, at, where);
  }
  const problem = fieldProblem(f, value, where);
  if (problem) r.fail(at, problem);
  return value;
}

function text(r: YamlReader, at: Located): unknown {
  const v = r.scalar(at);
  return typeof v === 'number' ? String(v) : v;
}

/** "5s", "300ms", "2m" (a bare number is seconds) -> ms, within the field's bounds. */
function readDuration(r: YamlReader, f: FieldSpec, at: Located, where: string): number {
  const v = r.scalar(at);
  const ms = typeof v === 'string' || typeof v === 'number' ? parseDurationMs(v) : undefined;
  if (ms === undefined) r.fail(at, `${where}: ${show(v)} is not a duration (e.g. 5s, 300ms or 2m)`);
  if ((f.min !== undefined && ms < f.min) || (f.max !== undefined && ms > f.max)) {
    r.fail(at, `${where} must be from ${formatDurationLimit(f.min ?? 0)} to ${f.max === undefined ? 'any' : formatDurationLimit(f.max)}, not ${show(v)}`);
  }
  return ms;
}

/** `retry: {attempts: 5, backoff: 1s, max_backoff: 1m}` -> {attempts: 5, initialDelayMs: 1000, maxDelayMs: 60000}. */
function readRetry(r: YamlReader, at: Located, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const used = new Map<string, string>();
  for (const [key, v] of r.entries(at)) {
    const f = fieldOf(RETRY_FIELDS, key);
    if (!f) r.fail(keyAt(v), `${where} has no key ${show(key)}; retry takes ${keyList(RETRY_FIELDS, false)}`);
    const before = used.get(f.key);
    if (before !== undefined) r.fail(keyAt(v), `${show(key)} is another name for ${show(before)}; write it once`);
    used.set(f.key, key);
    if (r.isNull(v)) continue;
    if (f.key === 'multiplier') {
      // config.retry's multiplier may be fractional (1.5), unlike an int field.
      const raw = r.scalar(v);
      const n = typeof raw === 'string' && /^\s*\d+(\.\d+)?\s*$/.test(raw) ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 1 || n > 10) r.fail(v, `${where}.multiplier must be a number from 1 to 10`);
      out.multiplier = n;
    } else {
      out[f.key] = readValue(r, f, v, `${where}.${key}`);
    }
  }
  return out;
}
