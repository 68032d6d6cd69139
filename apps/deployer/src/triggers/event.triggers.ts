import { Injectable, Logger } from '@nestjs/common';
import { customEventBinding, PlatformEvent } from '@platform/contracts';
import { EventSubscriber } from '@platform/messaging';
import { DeploymentStore } from '../deployments/deployment.store';
import { invocationBudgetMs, InvokerClient } from './invoker.client';

export const EVENT_TRIGGERS_QUEUE = 'deployer.event-triggers';
const REMEMBERED = 10_000;

/**
 * Event triggers: every `event.created` invokes the READY functions with an event trigger of its type, with
 * {"data": <the event>}. Looked up in the deployments table per event, so every replica sees every deployment.
 */
@Injectable()
export class EventTriggers {
  private readonly logger = new Logger(EventTriggers.name);
  /** (event, function) pairs already invoked, so a batch retried for one function does not re-invoke the others. */
  private readonly delivered = new Set<string>();

  constructor(
    private readonly subscriber: EventSubscriber,
    private readonly store: DeploymentStore,
    private readonly invoker: InvokerClient,
  ) {}

  async start(): Promise<void> {
    await this.subscriber.subscribe({
      queue: EVENT_TRIGGERS_QUEUE,
      // Every custom event (event.<type>.<label>): the triggers are looked up by type in the deployments table.
      bindings: [customEventBinding()],
      batchSize: 10,
      batchWaitMs: 20,
      handler: (events) => this.handle(events),
    });
  }

  async handle(events: PlatformEvent[]): Promise<void> {
    const retry: string[] = [];
    for (const event of events) {
      if (typeof event?.type !== 'string') continue;
      for (const d of await this.store.readyWithEventTrigger(event.type)) {
        const key = `${event.id}:${d.functionId}`;
        if (this.delivered.has(key)) continue;
        const outcome = await this.invoker.invoke(d.functionId, asInput(event), 'event', invocationBudgetMs(d.spec.config.resources.timeoutMs));
        if (outcome.transient) {
          retry.push(`${d.label}: ${outcome.message}`);
          continue;
        }
        if (!outcome.ok) this.logger.warn(`event ${event.id} (${event.type}) -> ${d.label} answered ${outcome.status}: ${outcome.message}`);
        this.remember(key);
      }
    }
    // Thrown: the subscriber puts the batch back after a pause and the functions not yet reached get it then.
    if (retry.length) throw new Error(`event trigger invocations to retry: ${retry.join('; ')}`);
  }

  private remember(key: string): void {
    this.delivered.add(key);
    if (this.delivered.size > REMEMBERED) this.delivered.delete(this.delivered.values().next().value as string);
  }
}

/** The event as the function gets it: as stored and queried, without the label that only routes it on the bus. */
function asInput(event: PlatformEvent): PlatformEvent {
  const input = { ...event };
  delete input.functionLabel;
  return input;
}
