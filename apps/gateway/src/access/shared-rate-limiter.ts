import { Logger } from '@nestjs/common';
import IORedis from 'ioredis';
import { RateLimiter } from './rate-limiter';

/**
 * The token bucket of RateLimiter, kept in Redis so every gateway replica takes from the same bucket. One script
 * call per request: atomic, on Redis' clock (replicas' clocks may differ). KEYS[1] the client's bucket; ARGV rate
 * (tokens a second), burst. Returns 0 (go ahead) or the whole seconds to wait.
 */
const TAKE_SCRIPT = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
tokens = math.min(burst, tokens + (math.max(0, now - at) / 1000) * rate)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
else
  wait = math.max(1, math.ceil((1 - tokens) / rate))
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return wait
`;

/** How long a request waits for Redis before this replica counts it alone (the hot path must not hang on Redis). */
const REDIS_TIMEOUT_MS = 1_000;

/**
 * Rate limits counted across gateway replicas in Redis; while Redis cannot answer, each replica counts alone (its
 * own RateLimiter, so a client may get up to replicas times the limit) and says so in a warning, rather than
 * refusing every request of the platform. Back to the shared count as soon as Redis answers again.
 */
export class SharedRateLimiter {
  private readonly logger = new Logger('RateLimiter');
  private readonly local: RateLimiter;
  private degraded = false;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly redis: IORedis,
    private readonly keyPrefix: string,
  ) {
    this.local = new RateLimiter(rate, burst);
    this.redis.defineCommand('hksTakeToken', { numberOfKeys: 1, lua: TAKE_SCRIPT });
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** Waits (a bounded time, never rejecting) for Redis, so the first requests are counted across replicas too. */
  async ready(timeoutMs = 3_000): Promise<void> {
    if (this.redis.status === 'ready') return;
    await withTimeout(new Promise((resolve) => this.redis.once('ready', resolve)), timeoutMs).catch(() => undefined);
  }

  /** 0 when the request may go ahead, else the whole seconds to wait. Never rejects. */
  async take(client: string): Promise<number> {
    try {
      // Not connected: no queueing behind a reconnect, this replica counts alone at once.
      if (this.redis.status !== 'ready') throw new Error(`not connected (${this.redis.status})`);
      const wait = await withTimeout(
        (this.redis as unknown as { hksTakeToken(key: string, rate: number, burst: number): Promise<number> }).hksTakeToken(
          `${this.keyPrefix}${client}`,
          this.rate,
          this.burst,
        ),
        REDIS_TIMEOUT_MS,
      );
      if (this.degraded) {
        this.degraded = false;
        this.logger.log('Redis answers again: rate limits are counted across gateway replicas again');
      }
      return Number(wait);
    } catch (err) {
      if (!this.degraded) {
        this.degraded = true;
        this.logger.warn(
          `Redis cannot count the rate limit (${(err as Error).message}): each gateway replica counts alone until it answers, ` +
            'so a client may get up to the number of replicas times the limit',
        );
      }
      return this.local.take(client);
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
