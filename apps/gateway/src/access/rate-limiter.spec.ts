import { RateLimiter } from './rate-limiter';

describe('RateLimiter', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000_000;
  });

  it('lets a burst through, then asks the client to wait', () => {
    const limiter = new RateLimiter(2, 3, clock);
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBe(1);
  });

  it('refills at the configured rate', () => {
    const limiter = new RateLimiter(2, 2, clock);
    limiter.take('a');
    limiter.take('a');
    expect(limiter.take('a')).toBeGreaterThan(0);
    now += 500;
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBeGreaterThan(0);
  });

  it('never saves up more than the burst', () => {
    const limiter = new RateLimiter(10, 2, clock);
    limiter.take('a');
    now += 3_600_000;
    expect([limiter.take('a'), limiter.take('a'), limiter.take('a')]).toEqual([0, 0, 1]);
  });

  it('keeps one bucket per client', () => {
    const limiter = new RateLimiter(1, 1, clock);
    expect(limiter.take('a')).toBe(0);
    expect(limiter.take('a')).toBe(1);
    expect(limiter.take('b')).toBe(0);
  });

  it('tells how many whole seconds to wait at a slow rate', () => {
    const limiter = new RateLimiter(0.2, 1, clock);
    limiter.take('a');
    expect(limiter.take('a')).toBe(5);
  });

  it('is off at rate 0', () => {
    expect(new RateLimiter(0, 1, clock).enabled).toBe(false);
  });
});
