import { Injectable, Logger } from '@nestjs/common';
import { eventBinding, EventNames, ScheduleTrigger } from '@platform/contracts';
import { EventSubscriber } from '@platform/messaging';
import { descriptorOf } from '@platform/sources';
import { DeploymentStore } from '../deployments/deployment.store';
import { EventTriggers } from './event.triggers';
import { SourceHost } from '../sources/source-host';
import { ScheduleTriggers } from './schedule.triggers';

/**
 * Wires a function's config.triggers while it is READY and unwires them otherwise. The deployments table is the
 * truth: `reconcile` reads it, so it is idempotent, rebuilds everything after a restart, and other replicas follow
 * through the broadcast deployment.* events. http triggers need nothing here (the gateway serves /fn/:label); the consumers of the event sources run in SourceHost.
 */
@Injectable()
export class TriggerWiring {
  private readonly logger = new Logger(TriggerWiring.name);
  private readonly inProgress = new Map<string, Promise<void>>();

  constructor(
    private readonly store: DeploymentStore,
    private readonly schedules: ScheduleTriggers,
    private readonly sources: SourceHost,
    private readonly events: EventTriggers,
    private readonly subscriber: EventSubscriber,
  ) {}

  /** At start: wire every READY deployment, drop schedulers of functions no longer deployed, start the consumers. */
  async start(): Promise<void> {
    const ready = await this.store.listReady();
    for (const d of ready) {
      // One function whose trigger cannot be wired (its queue refused, say) must not keep the others unwired.
      await this.reconcile(d.functionId).catch((err) => this.logger.error(`wiring the triggers of ${d.label}: ${(err as Error).message}`));
    }
    await this.schedules.prune(new Set(ready.map((d) => d.functionId)));
    this.schedules.start();
    await this.events.start();
    await this.subscriber.subscribe({
      queue: 'deployer.deployment-changes',
      broadcast: true,
      bindings: [EventNames.DeploymentReady, EventNames.DeploymentFailed, EventNames.DeploymentDeleted].map((name) => eventBinding(name)),
      handler: async (events) => {
        for (const id of new Set(events.map((e) => e.functionId).filter((id): id is string => !!id))) {
          await this.reconcile(id).catch((err) => this.logger.error(`wiring the triggers of ${id}: ${(err as Error).message}`));
        }
      },
    });
    this.logger.log(`triggers wired for ${ready.length} deployed function(s)`);
  }

  /** Makes the function's wiring match its current deployment; calls for one function run one after another. */
  reconcile(functionId: string): Promise<void> {
    const previous = this.inProgress.get(functionId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(() => this.apply(functionId));
    this.inProgress.set(functionId, next);
    void next
      .finally(() => {
        if (this.inProgress.get(functionId) === next) this.inProgress.delete(functionId);
      })
      .catch(() => undefined);
    return next;
  }

  private async apply(functionId: string): Promise<void> {
    const current = await this.store.current(functionId);
    const deployment = current?.status === 'READY' ? current : null;
    const triggers = deployment?.spec.config.triggers ?? [];
    await this.events.sync(functionId, deployment);
    await this.schedules.sync(
      functionId,
      triggers.filter((t): t is ScheduleTrigger => descriptorOf(t.type)?.kind === 'schedule'),
    );
    await this.sources.sync(functionId, deployment);
  }
}
