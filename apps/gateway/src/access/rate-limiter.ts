/**
 * A token bucket per client: `rate` tokens a second, at most `burst` saved up. Buckets refill lazily
 * when touched, so a request costs a map lookup and some arithmetic; idle full buckets are swept.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep: number;

  constructor(
    readonly rate: number,
    readonly burst: number,
    private readonly now: () => number = Date.now,
  ) {
    this.lastSweep = now();
  }

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** 0 when the request may go ahead, else the whole seconds to wait before the next one is allowed. */
  take(client: string): number {
    const now = this.now();
    if (now - this.lastSweep > 60_000) this.sweep(now);
    let b = this.buckets.get(client);
    if (!b) {
      b = { tokens: this.burst, at: now };
      this.buckets.set(client, b);
    } else {
      b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.rate));
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    for (const [client, b] of this.buckets) {
      if (b.tokens + ((now - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(client);
    }
  }
}
