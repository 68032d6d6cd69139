import { performance } from 'perf_hooks';
import type { ScalingMetric } from '@platform/contracts';

/** Milliseconds from an arbitrary origin; tests pass a fake one. */
export interface Clock {
  now(): number;
}

export const MONOTONIC_CLOCK: Clock = { now: () => performance.now() };

/** How far back rps and the reported samples look: long enough to smooth bursts, short enough to follow a ramp. */
export const SIGNAL_WINDOW_MS = 10_000;
const BUCKET_MS = 100;

/**
 * Arrivals over the last SIGNAL_WINDOW_MS, in 100 ms buckets with a running total (recording and reading are O(1)
 * amortised: the hot path pays one increment). The rate divides by the time the window has been filling, at least a
 * second, so a function that just got traffic scales within a second instead of after a whole window.
 */
export class ArrivalWindow {
  private readonly buckets: number[];
  private total = 0;
  /** Index (in buckets since the origin) of the newest bucket counted. */
  private head = -1;
  private first?: number;

  constructor(
    private readonly clock: Clock,
    private readonly windowMs = SIGNAL_WINDOW_MS,
  ) {
    this.buckets = new Array<number>(Math.ceil(windowMs / BUCKET_MS)).fill(0);
  }

  record(): void {
    const now = this.clock.now();
    this.first ??= now;
    this.advance(now);
    this.buckets[this.head % this.buckets.length]++;
    this.total++;
  }

  /** Requests per second over the window (0 before the first one). */
  perSecond(): number {
    if (this.first === undefined) return 0;
    const now = this.clock.now();
    this.advance(now);
    const span = Math.min(this.windowMs, Math.max(1000, now - this.first));
    return (this.total * 1000) / span;
  }

  private advance(now: number): void {
    const bucket = Math.floor(now / BUCKET_MS);
    if (this.head === -1) {
      this.head = bucket;
      return;
    }
    const steps = Math.min(bucket - this.head, this.buckets.length);
    for (let i = 1; i <= steps; i++) {
      const at = (this.head + i) % this.buckets.length;
      this.total -= this.buckets[at];
      this.buckets[at] = 0;
    }
    if (bucket > this.head) this.head = bucket;
  }
}

/**
 * The value a pool scales on and the instances it asks for: ceil(total / target) within min/maxInstances, where
 * the total is the requests in flight (concurrency), the recent requests per second (rps), or the sum of the
 * instances' latest samples (cpu %, memory MiB, the custom metric the function reports); a sample older than the
 * window no longer counts.
 */
export class ScalingSignal {
  private readonly arrivals: ArrivalWindow;
  private readonly samples = new Map<string, { value: number; at: number }>();

  constructor(
    readonly metric: ScalingMetric,
    readonly target: number,
    private readonly clock: Clock = MONOTONIC_CLOCK,
  ) {
    this.arrivals = new ArrivalWindow(clock);
  }

  arrival(): void {
    if (this.metric === 'rps') this.arrivals.record();
  }

  /** An instance's latest cpu %, memory MiB or custom value. */
  report(instance: string, value: number): void {
    if (Number.isFinite(value) && value >= 0) this.samples.set(instance, { value, at: this.clock.now() });
  }

  forget(instance: string): void {
    this.samples.delete(instance);
  }

  /** The metric summed over the function's instances; `inflight` is the pool's requests in flight. */
  total(inflight: number): number {
    if (this.metric === 'concurrency') return inflight;
    if (this.metric === 'rps') return this.arrivals.perSecond();
    const since = this.clock.now() - SIGNAL_WINDOW_MS;
    let sum = 0;
    for (const [id, s] of this.samples) {
      if (s.at < since) this.samples.delete(id);
      else sum += s.value;
    }
    return sum;
  }

  /** Instances the metric asks for, within the bounds. */
  desired(inflight: number, bounds: { minInstances: number; maxInstances: number }): number {
    const want = Math.ceil(this.total(inflight) / this.target - 1e-9);
    return Math.max(bounds.minInstances, Math.min(bounds.maxInstances, want));
  }
}

/**
 * The custom metric a handler reports on its response: `x-hks-metric: name=value` (several as `a=1, b=2`). Any
 * runtime can set a response header, so this works for every handler that answers an HTTP-style response.
 */
export const METRIC_HEADER = 'x-hks-metric';

/** The value of `name` in an x-hks-metric header, or undefined. */
export function reportedMetric(header: string | string[] | undefined, name: string): number | undefined {
  if (header === undefined) return undefined;
  for (const part of (Array.isArray(header) ? header : [header]).flatMap((h) => h.split(','))) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      const raw = part.slice(eq + 1).trim();
      const value = raw === '' ? NaN : Number(raw);
      if (Number.isFinite(value)) return value;
    }
  }
  return undefined;
}
