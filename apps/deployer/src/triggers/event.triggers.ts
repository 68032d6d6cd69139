import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { AcceptInvocationCommand, customEventBinding, EventTrigger, PlatformEvent } from '@platform/contracts';
import { EventSubscriber, Subscription } from '@platform/messaging';
import { SourceEvent } from '@platform/sources';
import { Deployment } from '../deployments/deployment.entity';
import { DeploymentStore } from '../deployments/deployment.store';
import { InvocationsService } from '../invocations/invocations.service';
import { configured, triggerCommand } from '../sources/trigger-command';

export const EVENT_TRIGGERS_QUEUE = 'deployer.event-triggers';
const REMEMBERED = 10_000;
/** How often the subscriptions are read again from the deployments table, in case a deployment.* broadcast was missed. */
const RESYNC_MS = 30_000;

/**
 * Event triggers: every `event.created` invokes the READY functions with an event trigger of its type (an
 * asynchronous invocation whose event is the posted event as a CloudEvent). The subscriptions are held in memory by event type: a lookup per event in the
 * deployments table held posted events to a few hundred per second. TriggerWiring keeps the index current
 * (`sync` on every deploy, undeploy and deployment.* broadcast, so every replica follows), and it is read
 * again from the table every RESYNC_MS.
 *
 * The queue is bound only to the types some function subscribes to (`event.<type>.*`), not to every custom
 * event: a posted event of a type nobody triggers on then goes to one durable queue (the event store's) instead
 * of two, which is what the broker's cost per event grows with (bench/broker-confirms.bench.js). A deploy
 * answers only after its types are bound. Bindings of types dropped while no deployer ran stay until a
 * deployer binds and drops them again; the events they bring find no trigger and are acknowledged.
 */
@Injectable()
export class EventTriggers implements OnApplicationShutdown {
  private readonly logger = new Logger(EventTriggers.name);
  /** (event, function) pairs already invoked, so a batch retried for one function does not re-invoke the others. */
  private readonly delivered = new Set<string>();
  /** READY deployments with at least one event trigger, by function id. */
  private readonly subscribed = new Map<string, Deployment>();
  /** When each function was last synced: a resync that read the table before that must not undo it. */
  private readonly syncedAt = new Map<string, number>();
  private byType = new Map<string, Deployment[]>();
  private resyncTimer?: NodeJS.Timeout;
  private subscription?: Subscription;
  /** Every binding this process has made (see bind()). */
  private readonly everBound = new Set<string>();

  constructor(
    private readonly subscriber: EventSubscriber,
    private readonly store: DeploymentStore,
    private readonly invocations: InvocationsService,
  ) {}

  async start(): Promise<void> {
    await this.resync();
    this.resyncTimer = setInterval(() => {
      this.resync().catch((err) => this.logger.warn(`re-reading the event triggers: ${(err as Error).message}`));
    }, RESYNC_MS);
    this.resyncTimer.unref();
    this.subscription = await this.subscriber.subscribe({
      queue: EVENT_TRIGGERS_QUEUE,
      // Custom events of the types in the index (event.<type>.<label>); the triggers are then looked up by type.
      bindings: this.bindings(),
      // Every custom event, as this queue was bound before it followed the index.
      unbind: [customEventBinding()],
      batchSize: 100,
      batchWaitMs: 20,
      handler: (events) => this.handle(events),
    });
    // A deploy synced while the subscription was being set up found none to rebind: bind what the index holds now.
    await this.bind();
  }

  onApplicationShutdown(): void {
    clearInterval(this.resyncTimer);
  }

  /** The function's subscriptions as of its current deployment (null: not READY, so none); resolves once bound. */
  async sync(functionId: string, deployment: Deployment | null): Promise<void> {
    this.syncedAt.set(functionId, Date.now());
    this.subscribed.delete(functionId);
    if (deployment && eventTriggersOf(deployment).length) this.subscribed.set(functionId, deployment);
    await this.reindex();
  }

  /** Reads every READY deployment again, except functions synced since the read began. */
  async resync(): Promise<void> {
    const startedAt = Date.now();
    const ready = new Map((await this.store.listReady()).filter((d) => eventTriggersOf(d).length).map((d) => [d.functionId, d]));
    const newer = (functionId: string) => (this.syncedAt.get(functionId) ?? 0) >= startedAt;
    for (const functionId of this.subscribed.keys()) if (!ready.has(functionId) && !newer(functionId)) this.subscribed.delete(functionId);
    for (const [functionId, d] of ready) if (!newer(functionId)) this.subscribed.set(functionId, d);
    await this.reindex();
  }

  private bindings(): string[] {
    return [...this.byType.keys()].map((type) => customEventBinding(type));
  }

  private async reindex(): Promise<void> {
    const byType = new Map<string, Deployment[]>();
    for (const d of this.subscribed.values()) {
      for (const type of new Set(eventTriggersOf(d).map((t) => t.eventType))) byType.set(type, [...(byType.get(type) ?? []), d]);
    }
    this.byType = byType;
    await this.bind();
  }

  /**
   * Binds the queue to every type in the index. Bindings are only ever added at run time: the queue is shared by the
   * deployer's replicas, and one with a stale view could otherwise remove a type another one just bound for a deploy.
   * A type no function triggers on any more stays bound (its events reach this queue and are dropped by the lookup).
   * A broker error is logged, not thrown: the subscription binds the same set again when it reconnects.
   */
  private async bind(): Promise<void> {
    for (const key of this.bindings()) this.everBound.add(key);
    try {
      await this.subscription?.rebind([...this.everBound]);
    } catch (err) {
      this.logger.warn(`binding the event-trigger queue to ${this.everBound.size} type(s) failed (bound again on reconnect): ${(err as Error).message}`);
    }
  }

  /**
   * Every (event, trigger) pair becomes an asynchronous invocation keyed by the trigger and the event id: an event the
   * bus delivers twice, or a batch retried for one function, is accepted once. The batch is acknowledged only once all
   * its invocations are committed.
   */
  async handle(events: PlatformEvent[]): Promise<void> {
    // By function: one multi-row accept each, all functions at once.
    const byFunction = new Map<string, { d: Deployment; cmds: AcceptInvocationCommand[]; keys: string[] }>();
    for (const event of events) {
      if (typeof event?.type !== 'string') continue;
      for (const d of this.byType.get(event.type) ?? []) {
        for (const t of eventTriggersOf(d).filter((t) => t.eventType === event.type)) {
          const trigger = configured('event', { ...t });
          const remembered = `${d.functionId}:${trigger.key}:${event.id}`;
          if (this.delivered.has(remembered)) continue;
          const entry = byFunction.get(d.functionId) ?? { d, cmds: [], keys: [] };
          entry.cmds.push(triggerCommand(d.functionId, trigger, asCloudEvent(event)));
          entry.keys.push(remembered);
          byFunction.set(d.functionId, entry);
        }
      }
    }
    const retry: string[] = [];
    await Promise.all(
      [...byFunction.values()].map(async ({ d, cmds, keys }) => {
        try {
          await this.invocations.acceptMany(d.functionId, cmds);
          for (const k of keys) this.remember(k);
        } catch (err) {
          retry.push(`${d.label}: ${(err as Error).message}`);
        }
      }),
    );
    // Thrown: the subscriber puts the batch back after a pause and the functions not yet reached get it then.
    if (retry.length) throw new Error(`event trigger invocations to accept again: ${retry.join('; ')}`);
  }

  private remember(key: string): void {
    this.delivered.add(key);
    if (this.delivered.size > REMEMBERED) this.delivered.delete(this.delivered.values().next().value as string);
  }
}

function eventTriggersOf(d: Deployment): EventTrigger[] {
  return (d.spec.config.triggers ?? []).filter((t): t is EventTrigger => t.type === 'event');
}

/**
 * The event as the function gets it (see the event source's eventShape): a CloudEvent whose `data` is the posted
 * payload, so `event["type"]` and `event.get("data")["email"]` read it.
 */
export function asCloudEvent(event: PlatformEvent): SourceEvent {
  const meta = event.metadata ?? {};
  return {
    specversion: '1.0',
    id: event.id,
    source: event.source || 'hks://events',
    type: event.type,
    time: event.timestamp,
    ...(typeof meta.subject === 'string' ? { subject: meta.subject } : {}),
    datacontenttype: 'application/json',
    data: event.payload ?? null,
  };
}
