import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { bullPrefix, ScheduleTrigger } from '@platform/contracts';
import { redisConnectionOptions, SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';
import { DeploymentStore } from '../deployments/deployment.store';
import { invocationBudgetMs, InvokerClient } from './invoker.client';

export const SCHEDULES_QUEUE = 'schedules';

interface ScheduledInvocation {
  functionId: string;
  data: unknown;
}

/**
 * Schedule triggers as BullMQ job schedulers (they live in Redis, so they survive restarts and every deployer
 * replica shares them); a worker here invokes the function when a job comes due.
 */
@Injectable()
export class ScheduleTriggers implements OnApplicationShutdown {
  private readonly logger = new Logger(ScheduleTriggers.name);
  private readonly queueConnection: IORedis;
  private readonly workerConnection: IORedis;
  readonly queue: Queue<ScheduledInvocation>;
  private worker?: Worker<ScheduledInvocation>;

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly store: DeploymentStore,
    private readonly invoker: InvokerClient,
  ) {
    const prefix = bullPrefix(settings.HKS_NAMESPACE);
    this.queueConnection = new IORedis({ ...redisConnectionOptions(settings.REDIS_URL), maxRetriesPerRequest: null });
    this.workerConnection = new IORedis({ ...redisConnectionOptions(settings.REDIS_URL), maxRetriesPerRequest: null });
    this.queue = new Queue(SCHEDULES_QUEUE, { connection: this.queueConnection, prefix });
  }

  start(): void {
    if (this.worker) return;
    this.worker = new Worker(SCHEDULES_QUEUE, (job) => this.run(job), {
      connection: this.workerConnection,
      prefix: bullPrefix(this.settings.HKS_NAMESPACE),
      concurrency: this.settings.SCHEDULE_CONCURRENCY,
    });
    this.worker.on('failed', (job, err) => this.logger.warn(`scheduled invocation of ${job?.data.functionId} failed: ${err.message}`));
    this.worker.on('error', (err) => this.logger.error(`schedule worker: ${err.message}`));
  }

  /** Makes the function's schedulers exactly `triggers` (none when it is not deployed). */
  async sync(functionId: string, triggers: ScheduleTrigger[]): Promise<void> {
    const wanted = new Map(triggers.map((t, i) => [schedulerId(functionId, i), t]));
    for (const id of await this.schedulerIds()) {
      if (id.startsWith(`${functionId}:`) && !wanted.has(id)) await this.queue.removeJobScheduler(id);
    }
    for (const [id, t] of wanted) {
      await this.queue.upsertJobScheduler(
        id,
        { pattern: t.cron, ...(t.timezone ? { tz: t.timezone } : {}) },
        {
          name: 'invoke',
          data: { functionId, data: t.data ?? null },
          opts: { attempts: 3, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: 100, removeOnFail: 500 },
        },
      );
    }
  }

  /** Removes the schedulers of functions that are no longer deployed (deleted while no deployer ran). */
  async prune(deployed: Set<string>): Promise<void> {
    for (const id of await this.schedulerIds()) {
      if (!deployed.has(id.split(':')[0])) await this.queue.removeJobScheduler(id);
    }
  }

  async schedulerIds(): Promise<string[]> {
    const all = await this.queue.getJobSchedulers(0, -1);
    return all.map((s) => s.id ?? s.key);
  }

  private async run(job: Job<ScheduledInvocation>): Promise<{ status: number } | { skipped: string }> {
    const { functionId, data } = job.data;
    const deployment = await this.store.current(functionId);
    if (deployment?.status !== 'READY') return { skipped: 'function is not deployed' };
    const due = (job.opts as { prevMillis?: number }).prevMillis ?? job.timestamp + (job.opts.delay ?? 0);
    const scheduledAt = new Date(due).toISOString();
    const body =
      data !== null && typeof data === 'object' && !Array.isArray(data) ? { scheduledAt, ...data } : data === null ? { scheduledAt } : { scheduledAt, data };
    const outcome = await this.invoker.invoke(functionId, body, 'schedule', invocationBudgetMs(deployment.spec.config.resources.timeoutMs));
    // Only a busy or unreachable invoker is worth another attempt; a handler error is recorded by the invoker.
    if (outcome.transient) throw new Error(outcome.message);
    if (!outcome.ok) this.logger.warn(`scheduled invocation of ${deployment.label} answered ${outcome.status}: ${outcome.message}`);
    return { status: outcome.status };
  }

  async ping(): Promise<void> {
    await this.queueConnection.ping();
  }

  async onApplicationShutdown(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
    await Promise.all([this.queueConnection.quit().catch(() => undefined), this.workerConnection.quit().catch(() => undefined)]);
  }
}

function schedulerId(functionId: string, index: number): string {
  return `${functionId}:${index}`;
}
