import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { Observable, throwError } from 'rxjs';
import { DomainError, ErrorBody, httpReason, isErrorBody } from '@platform/contracts';
import { dependencyErrorBody } from './dependency-errors';

/** Any thrown thing -> the wire shape of an error. Unknown errors become a 500 and are logged. */
export function toErrorBody(exception: unknown, logger?: Logger): ErrorBody {
  if (exception instanceof DomainError) return exception.toBody();
  if (exception instanceof HttpException) {
    const status = exception.getStatus();
    const res = exception.getResponse();
    if (typeof res === 'object' && res !== null) {
      const r = res as { message?: string | string[]; error?: string; details?: unknown };
      const message = Array.isArray(r.message) ? r.message.join('; ') : (r.message ?? exception.message);
      return { statusCode: status, error: httpReason(status), message, details: Array.isArray(r.message) ? r.message : r.details };
    }
    return { statusCode: status, error: httpReason(status), message: String(res) };
  }
  const parser = bodyParserError(exception);
  if (parser) return parser;
  if (isErrorBody(exception)) {
    const e = exception;
    return {
      statusCode: e.statusCode,
      error: e.error ?? httpReason(e.statusCode),
      message: e.message,
      ...(e.details === undefined ? {} : { details: e.details }),
    };
  }
  const dependency = dependencyErrorBody(exception);
  if (dependency) {
    if (dependency.statusCode >= 500) logger?.warn(dependency.message);
    return dependency;
  }
  logger?.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
  return { statusCode: 500, error: 'Internal Server Error', message: 'Internal error; the service logged the details' };
}

/** Express's body parser refusing a body (not JSON, too large, unsupported charset or encoding): the client's fault. */
function bodyParserError(exception: unknown): ErrorBody | undefined {
  const e = exception as { type?: unknown; status?: unknown; limit?: unknown; message?: string };
  if (!(exception instanceof Error) || typeof e.type !== 'string' || typeof e.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  const status = e.status;
  if (e.type === 'entity.parse.failed') return { statusCode: 400, error: 'Bad Request', message: 'The request body is not valid JSON' };
  if (e.type === 'entity.too.large') {
    return {
      statusCode: 413,
      error: httpReason(413),
      message: `The request body is larger than ${typeof e.limit === 'number' ? `${e.limit} bytes` : 'the limit'}`,
    };
  }
  return { statusCode: status, error: httpReason(status), message: `The request body cannot be read: ${e.message}` };
}

/**
 * Both transports: over RPC, errors travel back to the caller as `ErrorBody`; over HTTP, they become a JSON answer
 * with the right status (or just end a response whose headers already went out).
 */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly rpcLogger = new Logger('RpcError');
  private readonly httpLogger = new Logger('HttpError');
  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    const rpc = host.getType() === 'rpc';
    const body = toErrorBody(exception, rpc ? this.rpcLogger : this.httpLogger);
    if (rpc) return throwError(() => body);
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(body.statusCode).json(body);
  }
}

/** The same filter, by the name RPC servers (and their tests) use. */
export const RpcErrorFilter = HttpErrorFilter;
export type RpcErrorFilter = HttpErrorFilter;
