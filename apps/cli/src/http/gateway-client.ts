import { ApiError, GatewayUnreachableError } from '../errors';

export type Query = Record<string, string | number | undefined>;

export interface RequestOptions {
  body?: unknown;
  query?: Query;
  /** Default 30 s; invocations and streams pass their own. 0 = no limit. */
  timeoutMs?: number;
  headers?: Record<string, string>;
  signal?: AbortSignal;
}

export interface RawAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** Parsed JSON when the body is JSON, else undefined. */
  json: unknown;
}

const REASONS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host not found (DNS lookup failed)',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  UND_ERR_CONNECT_TIMEOUT: 'connection timed out',
  UND_ERR_SOCKET: 'connection closed',
  CERT_HAS_EXPIRED: 'TLS certificate expired',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'self-signed TLS certificate',
};

/** The gateway's public HTTP API, as `hks` uses it: JSON in, JSON out, errors as ApiError with the platform's message. */
export class GatewayClient {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey?: string,
  ) {}

  url(path: string, query?: Query): string {
    const u = new URL(this.baseUrl + path);
    for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined && v !== '') u.searchParams.set(k, String(v));
    return u.toString();
  }

  headers(extra: Record<string, string> = {}): Record<string, string> {
    return { accept: 'application/json', ...(this.apiKey ? { authorization: `Bearer ${this.apiKey}` } : {}), ...extra };
  }

  /** Sends a request and returns the answer whatever its status; throws only when the gateway cannot be reached. */
  async send(method: string, path: string, o: RequestOptions = {}): Promise<RawAnswer> {
    const res = await this.fetch(method, path, o);
    const text = await res.text();
    return { status: res.status, headers: res.headers, text, json: parseJson(text) };
  }

  /** A JSON call: the parsed body on 2xx, ApiError with the platform's message otherwise. */
  async call<T>(method: string, path: string, o: RequestOptions = {}): Promise<T> {
    const answer = await this.send(method, path, o);
    if (answer.status >= 200 && answer.status < 300) return answer.json as T;
    throw apiError(answer);
  }

  /** For streams: the open response, its body not yet read. */
  async open(path: string, o: RequestOptions = {}): Promise<Response> {
    const res = await this.fetch('GET', path, { ...o, timeoutMs: o.timeoutMs ?? 0 });
    if (res.ok) return res;
    const text = await res.text();
    throw apiError({ status: res.status, headers: res.headers, text, json: parseJson(text) });
  }

  private async fetch(method: string, path: string, o: RequestOptions): Promise<Response> {
    const timeoutMs = o.timeoutMs ?? 30_000;
    const signals = [o.signal, timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined].filter(Boolean) as AbortSignal[];
    const body = o.body === undefined ? undefined : JSON.stringify(o.body);
    try {
      return await fetch(this.url(path, o.query), {
        method,
        headers: this.headers(body === undefined ? o.headers : { 'content-type': 'application/json', ...o.headers }),
        body,
        signal: signals.length ? AbortSignal.any(signals) : undefined,
      });
    } catch (err) {
      throw this.unreachable(err, timeoutMs, o.signal);
    }
  }

  private unreachable(err: unknown, timeoutMs: number, userSignal?: AbortSignal): Error {
    if (userSignal?.aborted) return err as Error;
    const e = err as Error & { cause?: { code?: string; message?: string } };
    if (e.name === 'TimeoutError') {
      return new GatewayUnreachableError(`the gateway at ${this.baseUrl} did not answer within ${Math.round(timeoutMs / 1000)} s`);
    }
    const code = e.cause?.code;
    const reason = (code && REASONS[code]) ?? e.cause?.message ?? e.message;
    return new GatewayUnreachableError(`cannot reach the gateway at ${this.baseUrl}: ${reason}`);
  }
}

function parseJson(text: string): unknown {
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** The platform's {statusCode, error, message}, or what there is of it, as one line a person can act on. */
export function apiError(answer: RawAnswer): ApiError {
  const body = answer.json as { message?: unknown; error?: unknown } | undefined;
  let message: string;
  if (body && typeof body === 'object' && body.message !== undefined) {
    message = Array.isArray(body.message) ? body.message.join('; ') : String(body.message);
  } else if (answer.text.trim()) {
    message = `the gateway answered ${answer.status}: ${answer.text.trim().split('\n')[0].slice(0, 300)}`;
  } else {
    message = `the gateway answered ${answer.status} with no explanation`;
  }
  // 401: no key, or one that is not valid; 403: a valid key whose scope does not cover this (the message says so).
  if (answer.status === 401) {
    message += ' (set an API key with --api-key, HKS_API_KEY or apiKey in the config file)';
  } else if (answer.status === 403) {
    message += ' (use an admin key, or one that names this function: hks keys create)';
  }
  return new ApiError(answer.status, message, answer.json ?? answer.text);
}
