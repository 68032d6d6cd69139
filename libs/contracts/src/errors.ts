import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ANY_JSON } from './openapi-schemas';

/**
 * Every error answer of the API, and how domain errors travel over RPC, so the gateway can answer with the same
 * status and message the owning service chose.
 */
export class ErrorBody {
  @ApiProperty({ type: 'integer', example: 404, description: 'The HTTP status, repeated.' })
  statusCode: number;

  @ApiProperty({ example: 'Not Found', description: "The status's reason phrase." })
  error: string;

  @ApiProperty({ example: 'function "my-function" does not exist', description: 'What went wrong, in words a person can act on.' })
  message: string;

  @ApiPropertyOptional({
    ...ANY_JSON,
    description: 'More about the error: the list of validation messages for a 400, the failed deployment for a 502.',
  })
  details?: unknown;
}

export class DomainError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = new.target.name;
  }

  toBody(): ErrorBody {
    return { statusCode: this.statusCode, error: httpReason(this.statusCode), message: this.message, details: this.details };
  }
}

export class NotFoundError extends DomainError {
  constructor(message: string) {
    super(404, message);
  }
}

export class ConflictError extends DomainError {
  constructor(message: string, details?: unknown) {
    super(409, message, details);
  }
}

export class ValidationError extends DomainError {
  constructor(message: string, details?: unknown) {
    super(400, message, details);
  }
}

/** The request was understood but the function is not in a state to do it (e.g. deploy before build). */
export class StateError extends DomainError {
  constructor(message: string, details?: unknown) {
    super(409, message, details);
  }
}

/** The caller did not prove who it is (no or a wrong credential). */
export class UnauthorizedError extends DomainError {
  constructor(message: string) {
    super(401, message);
  }
}

export class UnavailableError extends DomainError {
  constructor(message: string, details?: unknown) {
    super(503, message, details);
  }
}

export function isErrorBody(value: unknown): value is ErrorBody {
  return typeof value === 'object' && value !== null && typeof (value as ErrorBody).statusCode === 'number' && typeof (value as ErrorBody).message === 'string';
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  409: 'Conflict',
  413: 'Payload Too Large',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function httpReason(status: number): string {
  return REASONS[status] ?? 'Error';
}
