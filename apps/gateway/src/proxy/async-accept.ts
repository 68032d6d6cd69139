import { Inject, Injectable, Logger } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import { SETTINGS } from '@platform/config';
import {
  AcceptedInvocation,
  AcceptInvocationCommand,
  AsyncRequestHeaders,
  CALLBACK_URL_MAX_LENGTH,
  DomainError,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  InvocationHeaders,
  InvocationPatterns,
  invocationStatusUrl,
  NotFoundError,
  StoredRequest,
  storedPathProblem,
  ValidationError,
} from '@platform/contracts';
import { RpcClient, toErrorBody } from '@platform/messaging';
import { FunctionAuthCache } from '../access/function-auth.cache';
import { sendError } from '../access/gateway-access';
import { GatewaySettingsValues } from '../settings';

/** Headers never stored with an async request: credentials, one hop's, and those that asked for the async run itself. */
const NOT_STORED = new Set([
  'authorization',
  'x-api-key',
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'expect',
  // The body is stored whole and sent again with its own length.
  'content-length',
  AsyncRequestHeaders.Prefer,
  AsyncRequestHeaders.InvocationType,
  AsyncRequestHeaders.CallbackUrl,
  AsyncRequestHeaders.IdempotencyKey,
  AsyncRequestHeaders.IdempotencyKeyAlt,
]);
/** Printable ASCII, as header values of a key are (the draft's key is an sf-string). */
const PRINTABLE = /^[\x20-\x7e]+$/;
/** Of a body past the limit, this much more is read and dropped to keep the connection; beyond, it is closed. */
const DISCARD_BYTES = 8 * 1024 * 1024;

/** Where the request came in: the function named in its URL, and the path and query after the name. */
export interface AsyncTarget {
  /** The function's id or label, as the URL names it (decoded). */
  name: string;
  style: 'data' | 'http';
  /** The URL after the prefix: `{name}[/rest][?query]`, as sent. */
  rest: string;
}

class TooLarge extends DomainError {
  constructor(limit: number) {
    super(
      413,
      `the request body is larger than the ${limit} bytes an asynchronous invocation may carry (GATEWAY_ASYNC_MAX_BODY_BYTES); send less, or invoke it synchronously`,
    );
  }
}

/**
 * The async accept path (Prefer: respond-async, X-Invocation-Type: Event, or an X-Callback-Url): the caller was
 * authorised as for a synchronous invocation. The request is stored by the deployer (RPC, committed when it answers)
 * and answered 202 with where to follow it; the deployer runs it later with retries.
 */
@Injectable()
export class AsyncAccept {
  private readonly logger = new Logger(AsyncAccept.name);
  private readonly maxBody: number;

  constructor(
    @Inject(SETTINGS) settings: GatewaySettingsValues,
    private readonly rpc: RpcClient,
    private readonly functionAuth: FunctionAuthCache,
  ) {
    this.maxBody = settings.GATEWAY_ASYNC_MAX_BODY_BYTES;
  }

  /** Answers the request (202, or the error); never rejects. */
  async accept(req: IncomingMessage, res: ServerResponse, target: AsyncTarget): Promise<void> {
    let asked = false;
    try {
      const callbackUrl = callbackUrlOf(req.headers);
      const idempotencyKey = idempotencyKeyOf(req.headers);
      const access = await this.functionAuth.accessOf(target.name);
      if (!access.known) throw new NotFoundError(`No function has the id or label ${target.name}`);
      const body = await this.readBody(req, res);
      const request = storedRequest(req, target, body);
      const pathProblem = storedPathProblem(request.path);
      if (pathProblem) throw new ValidationError(`an asynchronous invocation is sent again later, so ${pathProblem}: ${request.path.slice(0, 200)}`);
      const command: AcceptInvocationCommand = {
        functionId: access.id,
        request,
        source: target.style === 'data' ? 'api' : 'http',
        ...(callbackUrl ? { callbackUrl } : {}),
        ...(idempotencyKey ? { idempotencyKey } : {}),
      };
      asked = true;
      const accepted = await this.rpc.call<AcceptedInvocation>('deployer', InvocationPatterns.Accept, command);
      const text = JSON.stringify(accepted);
      res.writeHead(202, {
        'content-type': 'application/json; charset=utf-8',
        'content-length': Buffer.byteLength(text),
        location: invocationStatusUrl(accepted.invocationId),
        [InvocationHeaders.InvocationId]: accepted.invocationId,
        ...(preferAsync(req.headers) ? { 'preference-applied': 'respond-async' } : {}),
      });
      res.end(text);
    } catch (err) {
      let body = toErrorBody(err, this.logger);
      if (body.statusCode >= 500) {
        this.logger.warn(`async invocation of ${target.name} not accepted: ${body.message}`);
        // The deployer may have committed it before its answer was lost.
        if (body.statusCode === 503 && asked) {
          body = {
            ...body,
            message: `${body.message} (it may have been stored all the same: send it again with the same Idempotency-Key to have it run once)`,
          };
        }
      }
      // A body not read (refused before, or cut at the limit) is drained so the connection stays usable.
      if (!req.readableEnded) req.resume();
      sendError(res, body);
    }
  }

  /** The whole body, or TooLarge as soon as it passes the limit (announced or sent). */
  private readBody(req: IncomingMessage, res: ServerResponse): Promise<Buffer> {
    const announced = Number(req.headers['content-length']);
    const refuse = (size: number) => {
      // Reading the rest of a huge body to keep the connection costs more than a new connection.
      if (!(size <= this.maxBody + DISCARD_BYTES)) res.shouldKeepAlive = false;
      return new TooLarge(this.maxBody);
    };
    if (announced > this.maxBody) return Promise.reject(refuse(announced));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (c: Buffer) => {
        size += c.length;
        if (size > this.maxBody) {
          req.removeAllListeners('data');
          reject(refuse(Number.isNaN(announced) ? Infinity : announced));
        } else chunks.push(c);
      });
      req.on('end', () => {
        if (size <= this.maxBody) resolve(Buffer.concat(chunks, size));
      });
      // The client went away mid-body: nothing is stored (and no one reads the answer).
      req.on('error', () => reject(new ValidationError('the request body ended before its announced end (the client closed the connection)')));
    });
  }
}

const one = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v.join(', ') : v);

function preferAsync(headers: IncomingMessage['headers']): boolean {
  const prefer = one(headers[AsyncRequestHeaders.Prefer]) ?? '';
  return prefer.split(',').some((p) => p.split(';')[0].trim().toLowerCase() === 'respond-async');
}

/** X-Callback-Url: an absolute http(s) URL, or none. */
export function callbackUrlOf(headers: IncomingMessage['headers']): string | undefined {
  const raw = one(headers[AsyncRequestHeaders.CallbackUrl])?.trim();
  if (!raw) return undefined;
  if (raw.length > CALLBACK_URL_MAX_LENGTH) {
    throw new ValidationError(`X-Callback-Url is ${raw.length} characters long; at most ${CALLBACK_URL_MAX_LENGTH} are allowed`);
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(`X-Callback-Url "${raw.slice(0, 200)}" is not an absolute URL: send one like https://example.com/hooks/hks`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new ValidationError(`X-Callback-Url must be an http:// or https:// URL, not ${url.protocol}`);
  }
  return raw;
}

/** Idempotency-Key (or X-Idempotency-Key): 1 to 255 printable characters, or none. */
export function idempotencyKeyOf(headers: IncomingMessage['headers']): string | undefined {
  const main = one(headers[AsyncRequestHeaders.IdempotencyKey]);
  const alt = one(headers[AsyncRequestHeaders.IdempotencyKeyAlt]);
  if (main !== undefined && alt !== undefined && main !== alt) {
    throw new ValidationError('Idempotency-Key and X-Idempotency-Key differ: send one of them');
  }
  const key = main ?? alt;
  if (key === undefined) return undefined;
  const name = main !== undefined ? 'Idempotency-Key' : 'X-Idempotency-Key';
  if (key.length === 0) throw new ValidationError(`${name} is empty: send 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable characters, or leave it out`);
  if (key.length > IDEMPOTENCY_KEY_MAX_LENGTH) {
    throw new ValidationError(`${name} is ${key.length} characters long; at most ${IDEMPOTENCY_KEY_MAX_LENGTH} are allowed`);
  }
  if (!PRINTABLE.test(key)) throw new ValidationError(`${name} may hold only printable ASCII characters (space to ~)`);
  return key;
}

/** The request as the function would have got it: what the deployer sends the invoker on each attempt. */
export function storedRequest(req: IncomingMessage, target: AsyncTarget, body: Buffer): StoredRequest {
  const q = target.rest.indexOf('?');
  const pathname = q === -1 ? target.rest : target.rest.slice(0, q);
  const slash = pathname.indexOf('/');
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || NOT_STORED.has(name) || name.startsWith('x-hks-')) continue;
    headers[name] = one(value)!;
  }
  // As the synchronous path forwards it: the function learns who called.
  const remote = req.socket.remoteAddress;
  if (remote) headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${remote}` : remote;
  if (req.headers.host) headers['x-forwarded-host'] = req.headers.host;
  headers['x-forwarded-proto'] = 'http';
  return {
    style: target.style,
    method: req.method ?? 'POST',
    path: slash === -1 ? '/' : pathname.slice(slash),
    query: q === -1 ? '' : target.rest.slice(q + 1),
    headers,
    body: body.toString('base64'),
  };
}
