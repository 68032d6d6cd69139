import { Logger } from '@nestjs/common';
import type IORedis from 'ioredis';
import { SharedRateLimiter } from './shared-rate-limiter';

/** Enough of an ioredis client for the limiter: its status, and the script's answers (or failures). */
function redisWith(status: string, answer: () => Promise<number>) {
  const client = { status, defineCommand: jest.fn(), hksTakeToken: jest.fn(answer) };
  return client as typeof client & IORedis;
}

describe('SharedRateLimiter', () => {
  let warn: jest.SpyInstance;
  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => jest.restoreAllMocks());

  it("answers with Redis' verdict, on the client's key under the prefix", async () => {
    const redis = redisWith('ready', () => Promise.resolve(3));
    const limiter = new SharedRateLimiter(1, 2, redis, 'ns:gateway:rate:');
    expect(await limiter.take('key:k1')).toBe(3);
    expect(redis.hksTakeToken).toHaveBeenCalledWith('ns:gateway:rate:key:k1', 1, 2);
  });

  it('counts locally, and warns once, while Redis is not connected', async () => {
    const redis = redisWith('reconnecting', () => Promise.resolve(0));
    const limiter = new SharedRateLimiter(1, 2, redis, 'p:');
    expect([await limiter.take('ip:a'), await limiter.take('ip:a'), await limiter.take('ip:a')]).toEqual([0, 0, 1]);
    expect(redis.hksTakeToken).not.toHaveBeenCalled();
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toContain('each gateway replica counts alone');
  });

  it('counts locally when the script fails, and goes back to Redis once it answers', async () => {
    let fail = true;
    const redis = redisWith('ready', () => (fail ? Promise.reject(new Error('READONLY')) : Promise.resolve(0)));
    const limiter = new SharedRateLimiter(1, 1, redis, 'p:');
    expect(await limiter.take('ip:a')).toBe(0);
    expect(await limiter.take('ip:a')).toBe(1);
    fail = false;
    expect(await limiter.take('ip:a')).toBe(0);
    expect(warn).toHaveBeenCalledTimes(1);
  });
});
