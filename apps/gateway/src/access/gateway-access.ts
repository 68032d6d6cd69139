import { Inject, Injectable, OnApplicationShutdown, OnModuleInit } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'http';
import { ErrorBody } from '@platform/contracts';
import IORedis from 'ioredis';
import { redisConnectionOptions, SETTINGS } from '@platform/config';
import { toDomainError } from '@platform/messaging';
import { GatewaySettingsValues } from '../settings';
import { presentedKey } from './api-keys';
import { KeyVerifier, Principal } from './key-verifier';
import { RateLimiter } from './rate-limiter';
import { SharedRateLimiter } from './shared-rate-limiter';

export function sendError(res: ServerResponse, body: ErrorBody, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(body.statusCode, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

export const MISSING_KEY: ErrorBody = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'An API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>" (scripts/start wrote one to HKS_DATA_DIR/admin-key)',
};
export const WRONG_KEY: ErrorBody = { statusCode: 401, error: 'Unauthorized', message: 'The API key is not valid (unknown or revoked)' };
export const ADMIN_ONLY: ErrorBody = {
  statusCode: 403,
  error: 'Forbidden',
  message: 'This API key may only invoke the functions it names; this route needs an admin key',
};
export const AUTH_HEADERS = { 'www-authenticate': 'Bearer realm="hks"' };

/** An answer that stops the request, with the headers that go with it. */
export interface Refusal {
  body: ErrorBody;
  headers: Record<string, string>;
}

export type Authentication = { ok: true; principal: Principal } | ({ ok: false } & Refusal);

/** API keys and rate limits, applied the same way to the Nest routes (ApiKeyGuard) and to the raw invocation proxy. */
@Injectable()
export class GatewayAccess implements OnModuleInit, OnApplicationShutdown {
  readonly limiter: RateLimiter | SharedRateLimiter;
  private readonly trustProxy: boolean;
  /** The connection of the shared rate limit (only when a limit is set and shared). */
  private readonly redis?: IORedis;

  constructor(
    @Inject(SETTINGS) settings: GatewaySettingsValues,
    private readonly verifier: KeyVerifier,
  ) {
    const rps = Math.max(0, settings.GATEWAY_RATE_LIMIT_RPS);
    const burst = settings.GATEWAY_RATE_LIMIT_BURST > 0 ? settings.GATEWAY_RATE_LIMIT_BURST : Math.max(rps, 1);
    if (rps > 0 && settings.GATEWAY_RATE_LIMIT_SHARED) {
      // No offline queue: a request never waits for a reconnect (the limiter counts locally meanwhile).
      this.redis = new IORedis({ ...redisConnectionOptions(settings.REDIS_URL), enableOfflineQueue: false, maxRetriesPerRequest: 1 });
      // Reported by the limiter when a request needs Redis; ioredis reconnects by itself.
      this.redis.on('error', () => undefined);
      this.limiter = new SharedRateLimiter(rps, burst, this.redis, `${settings.HKS_NAMESPACE}:gateway:rate:`);
    } else {
      this.limiter = new RateLimiter(rps, burst);
    }
    this.trustProxy = settings.GATEWAY_TRUST_PROXY;
  }

  async onModuleInit(): Promise<void> {
    if (this.limiter instanceof SharedRateLimiter) await this.limiter.ready();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.redis?.quit().catch(() => this.redis?.disconnect());
  }

  /** Who the request's key speaks for, or the 401 (or 503 when keys cannot be checked) to answer. Never rejects. */
  async authenticate(req: IncomingMessage): Promise<Authentication> {
    const key = presentedKey(req);
    if (!key) return { ok: false, body: MISSING_KEY, headers: AUTH_HEADERS };
    try {
      const principal = await this.verifier.verify(key);
      return principal ? { ok: true, principal } : { ok: false, body: WRONG_KEY, headers: AUTH_HEADERS };
    } catch (err) {
      const e = toDomainError(err, 'function-registry', 0);
      return { ok: false, body: { statusCode: 503, error: 'Service Unavailable', message: `cannot check the API key: ${e.message}` }, headers: {} };
    }
  }

  /** The 429 to answer when the client (its key, else its IP) is over the rate limit. */
  async limit(req: IncomingMessage, principal?: Principal): Promise<Refusal | undefined> {
    if (!this.limiter.enabled) return undefined;
    const wait = await this.limiter.take(principal ? `key:${principal.id}` : `ip:${this.clientIp(req)}`);
    if (wait <= 0) return undefined;
    return {
      body: { statusCode: 429, error: 'Too Many Requests', message: `Rate limit of ${this.limiter.rate} requests per second exceeded; retry in ${wait} s` },
      headers: { 'retry-after': String(wait) },
    };
  }

  /** Rate limit for the raw proxy: answers the 429 itself and returns false when the request may not go on. */
  async admit(req: IncomingMessage, res: ServerResponse, principal?: Principal): Promise<boolean> {
    const refusal = await this.limit(req, principal);
    if (!refusal) return true;
    sendError(res, refusal.body, refusal.headers);
    return false;
  }

  clientIp(req: IncomingMessage): string {
    if (this.trustProxy) {
      const fwd = req.headers['x-forwarded-for'];
      // The right-most entry: the one the trusted proxy appended (entries before it are whatever the client sent).
      const entries = (Array.isArray(fwd) ? fwd.join(',') : (fwd ?? '')).split(',');
      const last = entries[entries.length - 1]?.trim().slice(0, 64);
      if (last) return last;
    }
    return req.socket.remoteAddress ?? 'unknown';
  }
}
