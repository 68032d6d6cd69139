import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { QueueTrigger } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { AmqpConnection } from '@platform/messaging';
import { DeployerSettingsValues } from '../settings';
import { Deployment } from '../deployments/deployment.entity';
import { invocationBudgetMs, InvokerClient } from './invoker.client';
import { QueueConsumer } from './queue-consumer';

/** The queue-trigger consumers this process runs, per function. Every replica runs them: competing consumers. */
@Injectable()
export class QueueTriggers implements OnApplicationShutdown {
  private readonly consumers = new Map<string, Map<string, QueueConsumer>>();

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly connection: AmqpConnection,
    private readonly invoker: InvokerClient,
  ) {}

  /** Makes the function's consumers exactly those of `triggers`; unchanged ones keep running. */
  async sync(functionId: string, deployment: Deployment | null, triggers: QueueTrigger[]): Promise<void> {
    const running = this.consumers.get(functionId) ?? new Map<string, QueueConsumer>();
    const timeoutMs = invocationBudgetMs(deployment?.spec.config.resources.timeoutMs ?? 0);
    const wanted = new Map(triggers.map((t) => [JSON.stringify([t.source, t.batchSize, t.maxBatchWaitMs, timeoutMs]), t]));
    for (const [key, consumer] of running) {
      if (!wanted.has(key)) {
        running.delete(key);
        await consumer.stop();
      }
    }
    for (const [key, trigger] of wanted) {
      if (running.has(key) || !deployment) continue;
      const consumer = new QueueConsumer(this.connection.manager, this.invoker, {
        functionId,
        label: deployment.label,
        trigger,
        invocationTimeoutMs: timeoutMs,
        retryDelayMs: this.settings.TRIGGER_RETRY_DELAY_MS,
      });
      await consumer.start();
      running.set(key, consumer);
    }
    if (running.size) this.consumers.set(functionId, running);
    else this.consumers.delete(functionId);
  }

  /** Sources consumed for a function (for health and tests). */
  sources(functionId: string): string[] {
    return [...(this.consumers.get(functionId)?.values() ?? [])].map((c) => c.options.trigger.source ?? '');
  }

  async onApplicationShutdown(): Promise<void> {
    const all = [...this.consumers.values()].flatMap((m) => [...m.values()]);
    this.consumers.clear();
    await Promise.all(all.map((c) => c.stop()));
  }
}
