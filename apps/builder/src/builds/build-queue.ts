import { Inject, Injectable } from '@nestjs/common';
import { Job, Queue } from 'bullmq';
import IORedis from 'ioredis';
import { BuildJobData, buildQueueName, bullPrefix } from '@platform/contracts';
import { redisConnectionOptions, SETTINGS } from '@platform/config';
import { HealthRegistry } from '@platform/observability';
import { BuilderSettingsValues } from '../settings';

/**
 * The Redis connection BullMQ works on (maxRetriesPerRequest: null, as BullMQ requires) and a Queue
 * handle used to answer for builds that are queued but not picked up yet.
 */
@Injectable()
export class BuildQueue {
  readonly connection: IORedis;
  readonly queue: Queue<BuildJobData>;
  readonly prefix: string;

  constructor(@Inject(SETTINGS) settings: BuilderSettingsValues, health: HealthRegistry) {
    this.prefix = bullPrefix(settings.HKS_NAMESPACE);
    this.connection = new IORedis({ ...redisConnectionOptions(settings.REDIS_URL), maxRetriesPerRequest: null });
    // Errors are retried by ioredis itself; listening keeps them from being thrown as unhandled.
    this.connection.on('error', () => undefined);
    this.queue = new Queue<BuildJobData>(buildQueueName(), { connection: this.connection, prefix: this.prefix });
    this.queue.on('error', () => undefined);
    health.register('redis', async () => {
      await this.connection.ping();
    });
  }

  /** A job still waiting for a builder (not yet a row), or undefined. */
  async waitingJob(buildId: string): Promise<Job<BuildJobData> | undefined> {
    const job = await this.queue.getJob(buildId);
    if (!job) return undefined;
    const state = await job.getState();
    return ['waiting', 'delayed', 'prioritized', 'waiting-children', 'active'].includes(state) ? job : undefined;
  }

  async waitingJobsOf(idOrLabel: string): Promise<Job<BuildJobData>[]> {
    const jobs = await this.queue.getJobs(['waiting', 'delayed', 'prioritized'], 0, 200);
    return jobs.filter((j) => j && (j.data.functionId === idOrLabel || j.data.label === idOrLabel));
  }

  /** Called by the worker once it has stopped, so no build is cut off from Redis. */
  async close(): Promise<void> {
    await this.queue.close();
    await this.connection.quit().catch(() => this.connection.disconnect());
  }
}
