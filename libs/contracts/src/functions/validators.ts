import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';
import { eventTypeProblem } from '../events/event-types';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];

/**
 * One rule and one message for a whole-number range (separate IsInt/Min/Max would repeat the message).
 * `max` may be Infinity for a range open at the top.
 */
export function WholeNumber(min: number, max: number, message: string) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'wholeNumber',
      target: object.constructor,
      propertyName,
      options: { message },
      validator: { validate: (v: unknown) => Number.isInteger(v) && (v as number) >= min && (v as number) <= max },
    });
}

export function IsStringRecord(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isStringRecord',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
          return Object.entries(value).every(([k, v]) => ENV_NAME.test(k) && typeof v === 'string');
        },
      },
    });
}

/** An object whose values are all strings (any keys). */
export function IsStringValues(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isStringValues',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) =>
          typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'string'),
      },
    });
}

/** /fn/{label} needs an API key unless auth is "none"; "required" is a synonym of "api-key" (the default). */
export const HTTP_AUTH = ['none', 'api-key', 'required'] as const;

/** Returns why a trigger is wrong, or undefined when it is fine. */
export function triggerProblem(t: unknown): string | undefined {
  if (typeof t !== 'object' || t === null) return 'a trigger must be an object with a "type"';
  const trigger = t as Record<string, unknown>;
  switch (trigger.type) {
    case 'http': {
      if (trigger.methods !== undefined) {
        if (!Array.isArray(trigger.methods) || trigger.methods.some((m) => typeof m !== 'string' || !HTTP_METHODS.includes(m.toUpperCase())))
          return `http trigger methods must be a list of ${HTTP_METHODS.join(', ')}`;
      }
      if (trigger.path !== undefined && (typeof trigger.path !== 'string' || !trigger.path.startsWith('/'))) return 'http trigger path must start with "/"';
      if (trigger.auth !== undefined && !(HTTP_AUTH as readonly unknown[]).includes(trigger.auth))
        return 'http trigger auth must be "none", "api-key" or "required" (same as "api-key")';
      return undefined;
    }
    case 'queue': {
      if (typeof trigger.source !== 'string' || trigger.source.trim() === '') return 'queue trigger needs a "source" (the queue name)';
      if (
        trigger.batchSize !== undefined &&
        !(Number.isInteger(trigger.batchSize) && (trigger.batchSize as number) >= 1 && (trigger.batchSize as number) <= 1000)
      )
        return 'queue trigger batchSize must be an integer from 1 to 1000';
      if (
        trigger.maxBatchWaitMs !== undefined &&
        !(Number.isInteger(trigger.maxBatchWaitMs) && (trigger.maxBatchWaitMs as number) >= 0 && (trigger.maxBatchWaitMs as number) <= 3_600_000)
      )
        return 'queue trigger maxBatchWaitMs must be an integer from 0 to 3600000';
      return undefined;
    }
    case 'schedule': {
      if (typeof trigger.cron !== 'string' || trigger.cron.trim().split(/\s+/).length < 5)
        return 'schedule trigger needs a "cron" expression with five fields, e.g. "0 * * * *"';
      if (trigger.timezone !== undefined) {
        if (typeof trigger.timezone !== 'string') return 'schedule trigger timezone must be a string such as "Europe/Paris"';
        try {
          new Intl.DateTimeFormat('en-US', { timeZone: trigger.timezone });
        } catch {
          return `schedule trigger timezone "${trigger.timezone}" is not a known time zone`;
        }
      }
      return undefined;
    }
    case 'event': {
      // The same types POST /api/v3/events accepts, so every type a user can post can trigger a function.
      if (trigger.eventType === undefined) return 'event trigger needs an "eventType" such as "ORDER_PLACED" or "com.shop.order.placed"';
      return eventTypeProblem(trigger.eventType, 'event trigger eventType') ?? undefined;
    }
    default:
      return `unknown trigger type ${JSON.stringify(trigger.type)}; use http, queue, schedule or event`;
  }
}

export function IsTrigger(options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name: 'isTrigger',
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => triggerProblem(value) === undefined,
        defaultMessage: (args?: ValidationArguments) => {
          const value = args?.value;
          const list = Array.isArray(value) ? value : [value];
          const problem = list.map(triggerProblem).find((p) => p !== undefined);
          return `config.triggers: ${problem ?? 'invalid trigger'}`;
        },
      },
    });
}
