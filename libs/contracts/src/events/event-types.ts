import { registerDecorator, ValidationOptions } from 'class-validator';

/**
 * Custom event types: what a user may post to POST /api/v3/events, subscribe a function's event trigger
 * to, and filter GET /api/v3/events by. Dot-separated words of letters, digits, `_` and `-`, the first
 * starting with a letter: `ORDER_PLACED`, `com.shop.order.placed`, `invoice-paid.v2`. The dots become
 * words of the routing key (`event.com.shop.order.placed.<label>`), so `*` and `#` bind as expected.
 */
export const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
export const EVENT_TYPE_MAX_LENGTH = 128;

/** The platform's own event types: it records them itself, a user cannot post them. */
export const PLATFORM_EVENT_TYPES = [
  'FUNCTION_INVOCATION',
  'FUNCTION_CREATED',
  'FUNCTION_UPDATED',
  'FUNCTION_DELETED',
  'FUNCTION_BUILD',
  'FUNCTION_DEPLOYMENT',
  'API_KEY',
] as const;

/**
 * CloudEvents type prefix of the platform's own events (`dev.hks.invocation.succeeded`); custom types
 * may not start with it, so a CloudEvent's type alone says whether it is the platform's or a user's.
 */
export const PLATFORM_CLOUDEVENT_TYPE_PREFIX = 'dev.hks.';

const EXAMPLES = 'e.g. ORDER_PLACED or com.shop.order.placed';

/** Why `type` cannot name events (a query filter, a trigger), or null when it can. */
export function eventTypeProblem(type: unknown, field = 'type'): string | null {
  if (typeof type !== 'string' || type === '') return `${field} must be an event type, ${EXAMPLES}`;
  if (type.length > EVENT_TYPE_MAX_LENGTH) return `${field} must be at most ${EVENT_TYPE_MAX_LENGTH} characters (it has ${type.length})`;
  if (!EVENT_TYPE_PATTERN.test(type))
    return `${field} ${JSON.stringify(type)} is not an event type: dot-separated words of letters, digits, _ and -, starting with a letter (${EXAMPLES})`;
  return null;
}

/** Why a user may not post an event of `type`, or null when they may. */
export function customEventTypeProblem(type: unknown, field = 'type'): string | null {
  const problem = eventTypeProblem(type, field);
  if (problem) return problem;
  const t = type as string;
  if ((PLATFORM_EVENT_TYPES as readonly string[]).includes(t))
    return `${field} ${t} is one of the platform's own event types (${PLATFORM_EVENT_TYPES.join(', ')}), which only the platform records; choose a type of your own, ${EXAMPLES}`;
  if (t.startsWith(PLATFORM_CLOUDEVENT_TYPE_PREFIX))
    return `${field} ${t} is in the platform's own namespace (${PLATFORM_CLOUDEVENT_TYPE_PREFIX}*); choose a type of your own, ${EXAMPLES}`;
  return null;
}

function typeDecorator(name: string, problem: (value: unknown, field: string) => string | null, options?: ValidationOptions) {
  return (object: object, propertyName: string) =>
    registerDecorator({
      name,
      target: object.constructor,
      propertyName,
      options,
      validator: {
        validate: (value: unknown) => problem(value, propertyName) === null,
        defaultMessage: (args) => problem(args?.value, propertyName) ?? `${propertyName} is not valid`,
      },
    });
}

/** Any event type (the platform's or a custom one): for filters. */
export function IsEventType(options?: ValidationOptions) {
  return typeDecorator('isEventType', eventTypeProblem, options);
}

/** A type a user may post: the pattern, and none of the platform's own. */
export function IsCustomEventType(options?: ValidationOptions) {
  return typeDecorator('isCustomEventType', customEventTypeProblem, options);
}
