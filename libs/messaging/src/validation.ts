import { BadRequestException, ValidationError as CvError, ValidationPipe } from '@nestjs/common';
import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { ValidationError } from '@platform/contracts';

function flatten(errors: CvError[], prefix = ''): string[] {
  return errors.flatMap((e) => {
    const name = prefix ? `${prefix}.${e.property}` : e.property;
    const constraints = e.constraints ?? {};
    // A field that is simply missing gets one message, not one per rule it would have to meet.
    if (e.value === undefined && Object.keys(constraints).length && !('whitelistValidation' in constraints)) return [`${name} is required`];
    const own = [...new Set(Object.values(constraints))];
    return [...own, ...flatten(e.children ?? [], name)];
  });
}

/** Validates an RPC payload against a contract class; throws a 400 ValidationError naming every problem. */
export function validatePayload<T extends object>(cls: new () => T, payload: unknown): T {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new ValidationError('The request body must be a JSON object');
  }
  const instance = plainToInstance(cls, payload);
  const errors = validateSync(instance, { whitelist: true, forbidNonWhitelisted: true });
  if (errors.length) {
    const messages = flatten(errors).map((m) => m.replace(/^property (\S+) should not exist$/, 'unknown field "$1"'));
    throw new ValidationError(messages.join('; '), messages);
  }
  return instance;
}

/** The HTTP ValidationPipe with messages that name the field. */
export function httpValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    transform: true,
    exceptionFactory: (errors) => {
      const messages = flatten(errors).map((m) => m.replace(/^property (\S+) should not exist$/, 'unknown field "$1"'));
      return new BadRequestException(messages);
    },
  });
}
