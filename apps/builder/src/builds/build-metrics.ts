import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { BUILD_BUCKETS, LATENCY_BUCKETS, ServiceMetrics } from '@platform/observability';
import { BuildQueue } from './build-queue';
import type { BuildOutcome } from './build-runner';

/** The builder's series: builds by outcome and cache (hit = same inputs, the earlier artifact reused), their duration, and the queue. */
@Injectable()
export class BuildMetrics {
  private readonly builds: Counter<'family' | 'outcome' | 'cache'>;
  private readonly duration: Histogram<'family' | 'outcome' | 'cache'>;
  private readonly wait: Histogram;

  constructor(metrics: ServiceMetrics, queue: BuildQueue) {
    this.builds = metrics.counter({
      name: 'hks_builds_total',
      help: 'Builds run, by runtime family, outcome (succeeded, failed) and cache (hit: an artifact with the same inputs was reused; miss)',
      labelNames: ['family', 'outcome', 'cache'],
    });
    this.duration = metrics.histogram({
      name: 'hks_build_duration_seconds',
      help: 'Time a builder spent on one build, from taking its job to its result',
      labelNames: ['family', 'outcome', 'cache'],
      buckets: BUILD_BUCKETS,
    });
    this.wait = metrics.histogram({
      name: 'hks_build_queue_wait_seconds',
      help: 'Time a build job waited in the BullMQ queue before a builder took it',
      buckets: [...LATENCY_BUCKETS, 60, 300],
    });
    metrics.gauge({
      name: 'hks_build_queue_depth',
      help: 'Build jobs waiting in the queue (waiting, delayed, prioritized), now',
      async collect() {
        const counts = await queue.queue.getJobCounts('waiting', 'delayed', 'prioritized');
        this.set(Object.values(counts).reduce((a, b) => a + b, 0));
      },
    });
  }

  /** When the job was queued and when a builder took it (BullMQ's timestamps, ms). */
  taken(queuedAt: number, takenAt: number): void {
    this.wait.observe(Math.max(0, takenAt - queuedAt) / 1000);
  }

  finished(family: string | undefined, outcome: BuildOutcome, seconds: number): void {
    const labels = { family: family ?? 'unknown', outcome: outcome.status.toLowerCase(), cache: outcome.cached ? 'hit' : 'miss' };
    this.builds.inc(labels);
    this.duration.observe(labels, seconds);
  }
}
