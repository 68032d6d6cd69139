import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { context, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
import { Job, Worker } from 'bullmq';
import { BuildInput, BuildJobData, buildQueueName, BuildSource, BuildSourceQuery, buildSourceDigest, FunctionPatterns } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { SETTINGS } from '@platform/config';
import { extractContext, tracer } from '@platform/observability';
import { BuilderSettingsValues } from '../settings';
import { BuildOutcome, BuildRunner } from './build-runner';
import { BuildMetrics } from './build-metrics';
import { BuildQueue } from './build-queue';

/**
 * Works the BullMQ build queue, BUILDER_CONCURRENCY builds at a time. A build that fails because of
 * its input completes the job (the failure is the build's result); only an error of the builder itself
 * (database gone, ...) fails the job, so BullMQ can retry it.
 */
@Injectable()
export class BuildWorker implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(BuildWorker.name);
  private worker?: Worker<BuildJobData, BuildOutcome>;

  constructor(
    @Inject(SETTINGS) private readonly settings: BuilderSettingsValues,
    private readonly queue: BuildQueue,
    private readonly runner: BuildRunner,
    private readonly rpc: RpcClient,
    private readonly metrics: BuildMetrics,
  ) {}

  onApplicationBootstrap(): void {
    this.worker = new Worker<BuildJobData, BuildOutcome>(buildQueueName(), (job) => this.process(job), {
      connection: this.queue.connection,
      prefix: this.queue.prefix,
      concurrency: Math.max(1, this.settings.BUILDER_CONCURRENCY),
      // npm and pip installs can take minutes; the lock is renewed while the build runs.
      lockDuration: 60_000,
    });
    this.worker.on('error', (err) => this.logger.warn(`build worker: ${err.message}`));
    this.worker.on('failed', (job, err) => this.logger.error(`build job ${job?.id} failed: ${err.message}`));
  }

  /** The build's span: a child of the one that queued it (the job's traceparent), active while the build runs. */
  private async process(job: Job<BuildJobData>): Promise<BuildOutcome> {
    const { traceparent, ...data } = job.data ?? ({} as BuildJobData);
    const parent = extractContext(typeof traceparent === 'string' ? { traceparent } : undefined);
    const span = tracer().startSpan(
      `build ${data.label ?? job.id}`,
      { kind: SpanKind.CONSUMER, attributes: { 'messaging.system': 'bullmq', 'hks.build_id': data.buildId ?? String(job.id), 'faas.name': data.label } },
      parent,
    );
    try {
      const outcome = await context.with(trace.setSpan(parent, span), () => this.build(job, data as BuildJobData));
      span.setAttribute('hks.build_status', outcome.status);
      if (outcome.status === 'FAILED') span.setStatus({ code: SpanStatusCode.ERROR, message: outcome.error ?? 'the build failed' });
      return outcome;
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      span.end();
    }
  }

  private async build(job: Job<BuildJobData>, data: BuildJobData): Promise<BuildOutcome> {
    const started = Date.now();
    this.metrics.taken(job.timestamp, job.processedOn ?? started);
    const ref = { ...data, buildId: data?.buildId ?? String(job.id) };
    const { input, problem } = await this.withSource(ref);
    this.logger.log(`build ${ref.buildId} of ${ref.label} v${ref.version}${input.template ? ` (${input.template})` : ''} started`);
    const outcome = await this.runner.run(input, problem);
    this.metrics.finished(input.family, outcome, (Date.now() - started) / 1000);
    this.logger.log(`build ${ref.buildId} ${outcome.status}${outcome.cached ? ' (cached)' : ''}${outcome.error ? `: ${outcome.error}` : ''}`);
    return outcome;
  }

  /**
   * The job names a version; its code comes from the registry now (Redis never holds it), and must be what the
   * build was requested for. When it cannot be had, the build fails with the reason.
   */
  private async withSource(ref: BuildJobData): Promise<{ input: BuildInput; problem?: string }> {
    const partial = ref as BuildInput;
    if (!ref.functionId || !Number.isInteger(ref.version)) return { input: partial };
    let source: BuildSource;
    try {
      source = await this.rpc.call<BuildSource>('function-registry', FunctionPatterns.GetBuildSource, {
        functionId: ref.functionId,
        version: ref.version,
      } satisfies BuildSourceQuery);
    } catch (err) {
      return { input: partial, problem: `the source of ${ref.label} v${ref.version} could not be read from the registry: ${(err as Error).message}` };
    }
    if (ref.sourceDigest && buildSourceDigest(source) !== ref.sourceDigest) {
      return { input: partial, problem: `the source of ${ref.label} v${ref.version} is not the one the build was requested for; request the build again` };
    }
    return { input: { ...ref, ...source } };
  }

  /**
   * Runs before every module's shutdown hook: running builds finish (and publish their events, and
   * write their rows) while the broker and the database are still there.
   */
  async beforeApplicationShutdown(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
