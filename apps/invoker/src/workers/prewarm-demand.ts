/**
 * The size of one runtime's prewarm pool: how many cold starts it had in the last `windowMs`, within
 * `min`..`max` (INVOKER_PREWARM, INVOKER_PREWARM_MAX, INVOKER_PREWARM_WINDOW_MS). A burst of cold starts
 * grows the pool for the next one; the pool shrinks back once the burst is older than the window.
 */
export class PrewarmDemand {
  /** When each recent cold start was asked for, oldest first; never more than `max` (no more can count). */
  private readonly times: number[] = [];

  constructor(
    private readonly limits: { min: number; max: number; windowMs: number },
    private readonly now: () => number = Date.now,
  ) {}

  coldStart(): void {
    this.times.push(this.now());
    if (this.times.length > this.limits.max) this.times.splice(0, this.times.length - this.limits.max);
  }

  /** Cold starts still in the window (at most `max`). */
  recent(): number {
    const since = this.now() - this.limits.windowMs;
    while (this.times.length && this.times[0] <= since) this.times.shift();
    return this.times.length;
  }

  target(): number {
    return Math.min(this.limits.max, Math.max(this.limits.min, this.recent()));
  }
}
