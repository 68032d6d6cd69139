import { registerDecorator, ValidationArguments, ValidationOptions } from 'class-validator';
import { sourceProblem } from '@platform/sources';

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

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

/** Returns why a trigger is wrong, or undefined when it is fine (the rules are its event source's). */
export function triggerProblem(t: unknown): string | undefined {
  return sourceProblem(t);
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
