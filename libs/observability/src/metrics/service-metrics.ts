import { collectDefaultMetrics, Counter, CounterConfiguration, Gauge, GaugeConfiguration, Histogram, HistogramConfiguration, Registry } from 'prom-client';

/** Seconds buckets for request-scale durations (invocations, RPC, queue waits): 1 ms to 30 s. */
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds buckets for builds: 100 ms to 10 min. */
export const BUILD_BUCKETS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600];

/** The label value of functions past the cap: their series are folded into one. */
export const OTHER_FUNCTIONS = 'other';

/**
 * The process's own metrics (CPU, memory, event loop, GC: prom-client's defaults) are collected once per process and
 * shown by the first service started in it: in one process (the local default) that is one /metrics, not six copies
 * of the same numbers under six service names; in a cluster each service is its own process and shows its own.
 */
let processRegistry: Registry | undefined;
let processOwner: string | undefined;

/**
 * One service's metrics: its own registry (every series labelled `service`), so services sharing a process never
 * mix or duplicate series. Function label values are capped (`maxFunctions` distinct ones per service, in the order
 * they were first seen); later functions are counted under `function="other"`, so a platform with many functions keeps
 * a bounded number of series.
 */
export class ServiceMetrics {
  readonly registry = new Registry();
  private readonly functions = new Set<string>();
  /** Whether this service shows the process's metrics (the first one in the process). */
  readonly ownsProcessMetrics: boolean;

  constructor(
    readonly service: string,
    readonly maxFunctions = 100,
  ) {
    this.registry.setDefaultLabels({ service });
    if (!processRegistry) {
      processRegistry = new Registry();
      collectDefaultMetrics({ register: processRegistry });
      processOwner = service;
    }
    this.ownsProcessMetrics = processOwner === service;
  }

  /** The `function` label value for a function name: itself while under the cap, else `other`. */
  functionLabel(name: string): string {
    if (this.functions.has(name)) return name;
    if (this.functions.size >= this.maxFunctions) return OTHER_FUNCTIONS;
    this.functions.add(name);
    return name;
  }

  counter<L extends string>(c: Omit<CounterConfiguration<L>, 'registers'>): Counter<L> {
    return this.existing<Counter<L>>(c.name) ?? new Counter<L>({ ...c, registers: [this.registry] });
  }

  gauge<L extends string>(c: Omit<GaugeConfiguration<L>, 'registers'>): Gauge<L> {
    return this.existing<Gauge<L>>(c.name) ?? new Gauge<L>({ ...c, registers: [this.registry] });
  }

  histogram<L extends string>(c: Omit<HistogramConfiguration<L>, 'registers'>): Histogram<L> {
    return this.existing<Histogram<L>>(c.name) ?? new Histogram<L>({ ...c, registers: [this.registry] });
  }

  /** The text exposition format: this service's series, and the process's when it owns them. */
  async exposition(): Promise<string> {
    const own = await this.registry.metrics();
    if (!this.ownsProcessMetrics || !processRegistry) return own;
    return own + (await processRegistry.metrics());
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private existing<M>(name: string): M | undefined {
    return this.registry.getSingleMetric(name) as M | undefined;
  }
}
