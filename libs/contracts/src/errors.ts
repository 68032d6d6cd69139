/**
 * Domain errors travel over RPC as plain objects of this shape, so the gateway can answer with
 * the same status and message the owning service chose.
 */
export interface ErrorBody {
  statusCode: number;
  error: string;
  message: string;
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
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ErrorBody).statusCode === 'number' &&
    typeof (value as ErrorBody).message === 'string'
  );
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
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

export function httpReason(status: number): string {
  return REASONS[status] ?? 'Error';
}
