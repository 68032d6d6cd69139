/**
 * The workers that may be stopped to make room under the invoker's worker cap (INVOKER_MAX_WORKERS),
 * least recently used first. A pool puts an instance here each time it goes idle above its function's
 * minInstances, and takes it out as soon as it is given work or stops.
 */
export class IdleWorkers<T> {
  /** A Map iterates in insertion order: re-inserting on each idle spell keeps the least recently used first. */
  private readonly since = new Map<T, number>();

  constructor(private readonly now: () => number = Date.now) {}

  get size(): number {
    return this.since.size;
  }

  /** `worker` has nothing in flight: it may be stopped, after every worker idle for longer. */
  markIdle(worker: T): void {
    this.since.delete(worker);
    this.since.set(worker, this.now());
  }

  /** `worker` is busy again, or stopping: not a candidate any more. */
  remove(worker: T): void {
    this.since.delete(worker);
  }

  /**
   * Takes out the worker idle the longest (the caller stops it), when it has been idle at least `minIdleMs`.
   * `accept` may still refuse it (e.g. its function is down to its minInstances): it is dropped and the next one tried.
   */
  takeLeastRecentlyUsed(minIdleMs = 0, accept: (worker: T) => boolean = () => true): T | undefined {
    const cutoff = this.now() - minIdleMs;
    for (const [worker, since] of this.since) {
      if (since > cutoff) return undefined;
      this.since.delete(worker);
      if (accept(worker)) return worker;
    }
    return undefined;
  }
}
