import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Logger } from '@nestjs/common';
import type { Response } from 'express';
import { Observable, throwError } from 'rxjs';
import { DomainError, ErrorBody, httpReason, isErrorBody } from '@platform/contracts';

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
  if (isErrorBody(exception)) return { ...exception, error: exception.error ?? httpReason(exception.statusCode) };
  if ((exception as { type?: string })?.type === 'entity.parse.failed') {
    return { statusCode: 400, error: 'Bad Request', message: 'The request body is not valid JSON' };
  }
  logger?.error(exception instanceof Error ? (exception.stack ?? exception.message) : String(exception));
  return { statusCode: 500, error: 'Internal Server Error', message: 'Internal error; the service logged the details' };
}

/** RPC transport: errors travel back to the caller as `ErrorBody`. */
@Catch()
export class RpcErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('RpcError');
  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    const body = toErrorBody(exception, this.logger);
    if (host.getType() === 'rpc') return throwError(() => body);
    const res = host.switchToHttp().getResponse<Response>();
    res.status(body.statusCode).json(body);
  }
}

/** HTTP transport: errors become a JSON answer with the right status. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');
  catch(exception: unknown, host: ArgumentsHost): Observable<never> | void {
    const body = toErrorBody(exception, this.logger);
    if (host.getType() === 'rpc') return throwError(() => body);
    const res = host.switchToHttp().getResponse<Response>();
    if (res.headersSent) {
      res.end();
      return;
    }
    res.status(body.statusCode).json(body);
  }
}
