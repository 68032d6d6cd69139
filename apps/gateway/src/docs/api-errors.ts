import { applyDecorators } from '@nestjs/common';
import { ApiExtraModels, ApiResponse, getSchemaPath, HeadersObject, ResponseObject } from '@nestjs/swagger';
import { ErrorBody } from '@platform/contracts';

/** The statuses the gateway answers with an ErrorBody. */
export type ErrorStatus = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 422 | 429 | 431 | 500 | 502 | 503 | 504;

const STRING = { schema: { type: 'string' as const } };

/** What each status means wherever it applies; a route may say more precisely why it answers it. */
const ERRORS: Record<ErrorStatus, { description: string; headers?: HeadersObject }> = {
  400: { description: 'Invalid input: the message names the field; also a body that is not JSON, or a URL the gateway refuses' },
  401: {
    description: 'No API key, or one that is unknown or revoked',
    headers: { 'WWW-Authenticate': { ...STRING, description: 'Bearer realm="hks"' } },
  },
  403: { description: 'An invoke key: it may only invoke the functions it names, and this route needs an admin key' },
  404: { description: 'Not found; the message says what' },
  405: {
    description: 'The method is not one this path takes',
    headers: { Allow: { ...STRING, description: 'The methods it takes, e.g. "GET, HEAD"' } },
  },
  409: { description: 'The request conflicts with the current state; the message says what to do' },
  413: { description: 'The request body is larger than the gateway accepts (GATEWAY_MAX_BODY_BYTES)' },
  422: { description: 'Well-formed, but it cannot be done as asked; the message says why' },
  429: {
    description: 'Over the rate limit (GATEWAY_RATE_LIMIT_RPS)',
    headers: { 'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait before trying again' } },
  },
  431: { description: 'The request line and headers are larger than the 16 KB the gateway reads' },
  500: { description: 'Internal error; the service logged the details' },
  502: { description: 'A platform service failed to do it; the message says why' },
  503: { description: 'A platform service (or RabbitMQ) did not answer; the message names it' },
  504: { description: 'Timed out; the message says what' },
};

/** One error answer: an ErrorBody as JSON, with the status's meaning (or the route's own). */
export function errorResponse(status: ErrorStatus, description?: string): ResponseObject {
  const { description: standard, headers } = ERRORS[status];
  return {
    description: description ?? standard,
    ...(headers ? { headers } : {}),
    content: { 'application/json': { schema: { $ref: getSchemaPath(ErrorBody) } } },
  };
}

/** `true` for the standard meaning of a status, or the words this route says about it. */
export type ErrorList = Partial<Record<ErrorStatus, true | string>>;

/** The error answers of a route (or of every route of a controller), all with the one ErrorBody schema. */
export function ApiErrors(errors: ErrorList): MethodDecorator & ClassDecorator {
  return applyDecorators(
    ApiExtraModels(ErrorBody),
    ...Object.entries(errors).map(([status, said]) => {
      const code = Number(status) as ErrorStatus;
      return ApiResponse({ status: code, ...errorResponse(code, said === true ? undefined : said) });
    }),
  );
}

/** What any management route may answer, whatever it does: bad URL, no key, an invoke key, the rate limit, a service down. */
export const MANAGEMENT_ERRORS: ErrorList = { 400: true, 401: true, 403: true, 429: true, 431: true, 503: true };

/** Every route of a management controller: admin key, rate limit, RPC to a platform service. */
export const ApiManagementErrors = (): ClassDecorator => ApiErrors(MANAGEMENT_ERRORS);
