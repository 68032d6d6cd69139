import { Injectable } from '@nestjs/common';
import { Counter, Histogram } from 'prom-client';
import { LATENCY_BUCKETS, ServiceMetrics } from '@platform/observability';
import { DeploymentTable } from '../deployments/deployment-table';
import { WorkerLauncher } from '../workers/worker-launcher';
import type { InvocationOutcome } from './outcome';

/**
 * The invoker's Prometheus series: every invocation it serves (local pools and Knative functions alike) by function
 * and outcome, its duration, cold starts and queue wait; pool queue depth and workers by state, read at scrape time.
 * `function` is the function's label (name), capped by METRICS_MAX_FUNCTIONS (the rest are `other`).
 */
@Injectable()
export class InvocationMetrics {
  private readonly invocations: Counter<'function' | 'outcome'>;
  private readonly duration: Histogram<'function'>;
  private readonly coldStart: Histogram<'function'>;
  private readonly queueWait: Histogram<'function'>;

  constructor(
    private readonly metrics: ServiceMetrics,
    table: DeploymentTable,
    launcher: WorkerLauncher,
  ) {
    this.invocations = metrics.counter({
      name: 'hks_invocations_total',
      help: 'Invocations served by this invoker, by function and outcome (success, or the failure reason: error, timeout, memory, crash, queue-full, payload-too-large, shutdown)',
      labelNames: ['function', 'outcome'],
    });
    this.duration = metrics.histogram({
      name: 'hks_invocation_duration_seconds',
      help: 'Time from the request reaching the invoker to its answer, cold starts and queue wait included',
      labelNames: ['function'],
      buckets: LATENCY_BUCKETS,
    });
    this.coldStart = metrics.histogram({
      name: 'hks_cold_start_duration_seconds',
      help: 'Start (or prewarmed load) of the worker a cold invocation waited for; its count is the number of cold starts',
      labelNames: ['function'],
      buckets: LATENCY_BUCKETS,
    });
    this.queueWait = metrics.histogram({
      name: 'hks_invocation_queue_wait_seconds',
      help: "Time an invocation waited in its function's queue for a worker (0 when one was free)",
      labelNames: ['function'],
      buckets: LATENCY_BUCKETS,
    });
    const label = (name: string) => metrics.functionLabel(name);
    metrics.gauge({
      name: 'hks_invocation_queue_depth',
      help: "Invocations waiting in a function's queue for a worker, now",
      labelNames: ['function'],
      collect() {
        this.reset();
        for (const p of table.list()) if ('queued' in p) this.inc({ function: label(p.label) }, p.queued);
      },
    });
    metrics.gauge({
      name: 'hks_workers',
      help: 'Worker processes by state: starting, busy, idle (of a function), prewarmed (generic, per runtime family, function="")',
      labelNames: ['function', 'state'],
      collect() {
        this.reset();
        for (const p of table.list()) {
          if (!('queued' in p)) continue;
          const f = label(p.label);
          this.inc({ function: f, state: 'starting' }, p.starting);
          this.inc({ function: f, state: 'busy' }, p.busy);
          this.inc({ function: f, state: 'idle' }, p.instances - p.busy);
        }
        for (const [family, s] of Object.entries(launcher.prewarmStatus())) {
          this.inc({ function: '', state: `prewarmed-${family}` }, s.idle);
        }
      },
    });
    metrics.gauge({
      name: 'hks_scaling_metric',
      help:
        "The value a function's pool scales on, summed over its instances: requests in flight (metric=concurrency), requests per second " +
        'over the last 10 s (rps), CPU % of one core (cpu), memory MiB (memory), or the reported custom metric (custom)',
      labelNames: ['function', 'metric'],
      collect() {
        this.reset();
        for (const p of table.list()) if ('signal' in p) this.inc({ function: label(p.label), metric: p.signal.metric }, p.signal.total);
      },
    });
    metrics.gauge({
      name: 'hks_scaling_target',
      help: "The target of a function's scaling metric per instance (scaling.target, or the metric's default)",
      labelNames: ['function', 'metric'],
      collect() {
        this.reset();
        for (const p of table.list()) if ('signal' in p) this.set({ function: label(p.label), metric: p.signal.metric }, p.signal.target);
      },
    });
    metrics.gauge({
      name: 'hks_scaling_desired_instances',
      help: "Instances a function's scaling metric asks for now: ceil(value / target) within min/maxInstances",
      labelNames: ['function'],
      collect() {
        this.reset();
        for (const p of table.list()) if ('signal' in p) this.inc({ function: label(p.label) }, p.signal.desired);
      },
    });
  }

  /** One answered invocation (called once per invocation, with the invoker's measured duration). */
  finished(functionLabel: string, o: InvocationOutcome, durationMs: number): void {
    const f = this.metrics.functionLabel(functionLabel);
    this.invocations.inc({ function: f, outcome: o.error === undefined ? 'success' : (o.reason ?? 'error') });
    this.duration.observe({ function: f }, durationMs / 1000);
    if (o.coldStart && o.startMs !== null) this.coldStart.observe({ function: f }, o.startMs / 1000);
    if (o.queueMs !== undefined) this.queueWait.observe({ function: f }, o.queueMs / 1000);
  }
}
