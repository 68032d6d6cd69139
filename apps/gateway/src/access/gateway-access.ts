import { Inject, Injectable } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import { ErrorBody } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { GatewaySettingsValues } from '../settings';
import { ApiKeys } from './api-keys';
import { RateLimiter } from './rate-limiter';

export function sendError(res: ServerResponse, body: ErrorBody, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(body.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** API keys and rate limits, applied the same way to the Nest routes and to the raw invocation proxy. */
@Injectable()
export class GatewayAccess {
  readonly keys: ApiKeys;
  readonly limiter: RateLimiter;
  private readonly trustProxy: boolean;

  constructor(@Inject(SETTINGS) settings: GatewaySettingsValues) {
    this.keys = new ApiKeys(settings.HKS_API_KEYS);
    const rps = Math.max(0, settings.GATEWAY_RATE_LIMIT_RPS);
    this.limiter = new RateLimiter(rps, settings.GATEWAY_RATE_LIMIT_BURST > 0 ? settings.GATEWAY_RATE_LIMIT_BURST : Math.max(rps, 1));
    this.trustProxy = settings.GATEWAY_TRUST_PROXY;
  }

  /**
   * Answers the request itself (401 or 429) and returns false when it may not go on. `needsKey`:
   * whether this route is protected by the API keys (every /api route; /fn only per trigger).
   */
  admit(req: IncomingMessage, res: ServerResponse, needsKey: boolean): boolean {
    let key: string | undefined;
    if (needsKey && this.keys.enabled) {
      const check = this.keys.check(req);
      if (!check.ok) {
        sendError(res, check.body, { 'www-authenticate': 'Bearer realm="hks"' });
        return false;
      }
      key = check.key;
    }
    if (this.limiter.enabled) {
      const wait = this.limiter.take(key ? `key:${key}` : `ip:${this.clientIp(req)}`);
      if (wait > 0) {
        sendError(
          res,
          {
            statusCode: 429,
            error: 'Too Many Requests',
            message: `Rate limit of ${this.limiter.rate} requests per second exceeded; retry in ${wait} s`,
          },
          { 'retry-after': String(wait) },
        );
        return false;
      }
    }
    return true;
  }

  clientIp(req: IncomingMessage): string {
    if (this.trustProxy) {
      const fwd = req.headers['x-forwarded-for'];
      const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
      if (first) return first;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }
}
