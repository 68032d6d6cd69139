import { createHash } from 'crypto';
import { AcceptInvocationCommand, IDEMPOTENCY_KEY_MAX_LENGTH, InvocationSource, RetryOverride } from '@platform/contracts';
import { SourceEvent, triggerKey } from '@platform/sources';

/** A trigger as configured, with the kind its descriptor gives (an alias such as rabbitmq resolved to queue). */
export interface ConfiguredTrigger {
  kind: string;
  key: string;
  config: Record<string, unknown>;
}

export function configured(kind: string, config: Record<string, unknown>): ConfiguredTrigger {
  return { kind, key: triggerKey(config), config };
}

/**
 * The asynchronous invocation an event becomes: data style, so the handler's event is the CloudEvent itself
 * (`event.data`, `event['type']`); its idempotency key is the trigger's and the event's id, so an event delivered
 * twice (a redelivery, two replicas, a crash before the acknowledgement) is accepted once.
 */
export function triggerCommand(functionId: string, trigger: ConfiguredTrigger, event: SourceEvent): AcceptInvocationCommand {
  const body = Buffer.from(JSON.stringify({ data: event }), 'utf8').toString('base64');
  const retry = trigger.config.retry as RetryOverride | undefined;
  return {
    functionId,
    source: trigger.kind as InvocationSource,
    idempotencyKey: idempotencyKey(trigger, event.id),
    request: { style: 'data', method: 'POST', path: '', query: '', headers: { 'content-type': 'application/json' }, body },
    ...(retry ? { retry } : {}),
    trigger: { type: trigger.kind, key: trigger.key, config: trigger.config },
  };
}

/** `{kind}:{trigger key}:{event id}`; an id too long or not printable ASCII is hashed. */
export function idempotencyKey(trigger: ConfiguredTrigger, eventId: string): string {
  const prefix = `${trigger.kind}:${trigger.key}:`;
  const plain = prefix + eventId;
  if (plain.length <= IDEMPOTENCY_KEY_MAX_LENGTH && /^[\x20-\x7e]+$/.test(plain)) return plain;
  return `${prefix}sha256:${createHash('sha256').update(eventId).digest('hex')}`;
}
