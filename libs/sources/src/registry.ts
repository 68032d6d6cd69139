import { createHash } from 'crypto';
import { fieldProblem, fieldSchema } from './fields';
import type { SourceDescriptor } from './types';
import { event } from './event';
import { http } from './http';
import { kafka } from './kafka';
import { mqtt } from './mqtt';
import { nats } from './nats';
import { queue } from './queue';
import { s3 } from './s3';
import { schedule } from './schedule';

/** Every kind of event source, one line each. */
export const SOURCES: readonly SourceDescriptor[] = [http, queue, nats, mqtt, kafka, s3, schedule, event];

const byType = new Map<string, SourceDescriptor>();
for (const d of SOURCES) for (const name of [d.kind, ...(d.aliases ?? [])]) byType.set(name, d);

/** The descriptor of a trigger `type` (a kind or one of its aliases). */
export function descriptorOf(type: unknown): SourceDescriptor | undefined {
  return typeof type === 'string' ? byType.get(type) : undefined;
}

/** Every `type` a trigger may have. */
export function triggerTypes(): string[] {
  return [...byType.keys()];
}

/** Why a trigger (API form) is wrong, naming the field; undefined when it is fine. */
export function sourceProblem(t: unknown): string | undefined {
  if (typeof t !== 'object' || t === null || Array.isArray(t)) return 'a trigger must be an object with a "type"';
  const trigger = t as Record<string, unknown>;
  const d = descriptorOf(trigger.type);
  if (!d) return `unknown trigger type ${JSON.stringify(trigger.type)}; use ${SOURCES.map((s) => s.kind).join(', ')}`;
  const known = new Set(['type', ...d.fields.map((f) => f.key)]);
  for (const key of Object.keys(trigger)) {
    if (!known.has(key)) return `${d.kind} trigger has no field ${JSON.stringify(key)} (it has ${[...known].filter((k) => k !== 'type').join(', ')})`;
  }
  for (const f of d.fields) {
    const value = trigger[f.key];
    if (value === undefined) {
      if (f.required) return `${d.kind} trigger needs "${f.key}": ${f.description}`;
      continue;
    }
    const problem = fieldProblem(f, value, `${d.kind} trigger ${f.key}`);
    if (problem) return problem;
  }
  return d.check?.(trigger);
}

/**
 * A trigger's stable id within its function: a hash of its kind and the address it consumes (not its delivery
 * settings), so a changed batch size keeps the same consumer group and idempotency keys.
 */
export function triggerKey(t: Record<string, unknown>): string {
  const d = descriptorOf(t.type);
  const identity = d ? [d.kind, ...d.identity(t)] : [t.type];
  return createHash('sha256').update(JSON.stringify(identity)).digest('hex').slice(0, 12);
}

/** The component name of a kind's schema in the OpenAPI document. */
export function triggerSchemaName(d: SourceDescriptor): string {
  return `${d.kind[0].toUpperCase()}${d.kind.slice(1)}Trigger`;
}

/** One OpenAPI 3.0 schema per kind, by component name. */
export function triggerSchemas(): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const d of SOURCES) {
    out[triggerSchemaName(d)] = {
      type: 'object',
      description: d.summary,
      required: ['type', ...d.fields.filter((f) => f.required).map((f) => f.key)],
      additionalProperties: false,
      properties: {
        type: { type: 'string', enum: [d.kind, ...(d.aliases ?? [])] },
        ...Object.fromEntries(d.fields.map((f) => [f.key, fieldSchema(f)])),
      },
      example: d.example,
    };
  }
  return out;
}
