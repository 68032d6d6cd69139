import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { Job, Worker } from 'bullmq';
import { BuildJobData, buildQueueName } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { BuilderSettingsValues } from '../settings';
import { BuildOutcome, BuildRunner } from './build-runner';
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

  private async process(job: Job<BuildJobData>): Promise<BuildOutcome> {
    const data = { ...job.data, buildId: job.data?.buildId ?? String(job.id) };
    this.logger.log(`build ${data.buildId} of ${data.label} v${data.version} (${data.template}) started`);
    const outcome = await this.runner.run(data);
    this.logger.log(`build ${data.buildId} ${outcome.status}${outcome.cached ? ' (cached)' : ''}${outcome.error ? `: ${outcome.error}` : ''}`);
    return outcome;
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
