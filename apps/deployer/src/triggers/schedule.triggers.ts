import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Job, Queue, Worker } from 'bullmq';
import IORedis from 'ioredis';
import { bullPrefix, ScheduleTrigger } from '@platform/contracts';
import { redisConnectionOptions, SETTINGS } from '@platform/config';
import { SourceEvent } from '@platform/sources';
import { DeployerSettingsValues } from '../settings';
import { DeploymentStore } from '../deployments/deployment.store';
import { InvocationsService } from '../invocations/invocations.service';
import { configured, triggerCommand } from '../sources/trigger-command';

export const SCHEDULES_QUEUE = 'schedules';

interface ScheduledInvocation {
  functionId: string;
  /** The trigger as configured (type schedule). Jobs of schedulers made before: only `data`. */
  trigger?: Record<string, unknown>;
  data?: unknown;
}

/**
 * Schedule triggers as BullMQ job schedulers (they live in Redis, so they survive restarts and every deployer
 * replica shares them). When a job comes due, a worker here accepts the tick as an asynchronous invocation keyed by
 * the trigger and the tick: a job run twice (its worker died, two replicas) is still one invocation, and the
 * dispatcher runs it once (an attempt whose deployer died is looked up in the event store before it runs again).
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
    private readonly invocations: InvocationsService,
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
    const wanted = new Map(triggers.map((t) => [schedulerId(functionId, configured('schedule', { ...t }).key), t]));
    for (const id of await this.schedulerIds()) {
      if (id.startsWith(`${functionId}:`) && !wanted.has(id)) await this.queue.removeJobScheduler(id);
    }
    for (const [id, t] of wanted) {
      await this.queue.upsertJobScheduler(
        id,
        { pattern: t.cron, ...(t.timezone ? { tz: t.timezone } : {}) },
        {
          name: 'invoke',
          data: { functionId, trigger: { ...t } },
          // Accepting is retried until it holds (the database back): the run itself is the invocation's, with its retries.
          opts: { attempts: 20, backoff: { type: 'exponential', delay: 1_000 }, removeOnComplete: 100, removeOnFail: 500 },
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

  private async run(job: Job<ScheduledInvocation>): Promise<{ invocationId: string; duplicate: boolean } | { skipped: string }> {
    const { functionId } = job.data;
    const deployment = await this.store.current(functionId);
    if (deployment?.status !== 'READY') return { skipped: 'function is not deployed' };
    const config = job.data.trigger ?? {
      type: 'schedule',
      cron: (job.opts as { repeat?: { pattern?: string } }).repeat?.pattern,
      data: job.data.data ?? undefined,
    };
    const trigger = configured('schedule', config);
    const due = (job.opts as { prevMillis?: number }).prevMillis ?? job.timestamp + (job.opts.delay ?? 0);
    const accepted = await this.invocations.accept(triggerCommand(functionId, trigger, tickEvent(deployment.label, trigger.key, config, due)));
    return { invocationId: accepted.invocationId, duplicate: accepted.duplicate };
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

function schedulerId(functionId: string, key: string): string {
  return `${functionId}:${key}`;
}

/** The event of one tick (see the schedule source's eventShape); its id is the trigger's and the tick's. */
export function tickEvent(label: string, key: string, trigger: Record<string, unknown>, dueMs: number): SourceEvent {
  const time = new Date(dueMs).toISOString();
  return {
    specversion: '1.0',
    id: `${key}:${time}`,
    source: `hks://schedule/${label}`,
    type: 'hks.schedule.tick',
    time,
    subject: String(trigger.cron ?? ''),
    scheduledat: time,
    datacontenttype: 'application/json',
    data: trigger.data ?? {},
  };
}
