import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import {
  DeploymentPatterns,
  DeploymentView,
  DomainError,
  eventBinding,
  EventNames,
  FunctionDeploymentQuery,
  InvokerDeployment,
  ListActiveDeploymentsQuery,
  PlatformEvent,
} from '@platform/contracts';
import { EventSubscriber, RpcClient } from '@platform/messaging';
import { InvokerSettingsValues } from '../settings';
import { DeploymentTable } from './deployment-table';

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * Keeps the table in step with the deployer: every deployment.* and function.deleted event (broadcast: each invoker
 * replica hears them), and a resync that re-reads the active deployments (ListActive) and reconciles the table at
 * each (re)connect to RabbitMQ and every INVOKER_RESYNC_INTERVAL_MS. The broadcast queue goes with the connection,
 * so the events of a broker outage never arrive: without the resync an invoker would go on serving an undeployed
 * function or an old version. At the first connect, the resync installs the deployments with warm instances or on
 * Knative at once (the others on first use).
 */
@Injectable()
export class DeploymentSync implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeploymentSync.name);
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private periodic?: NodeJS.Timeout;
  private retryMs = FIRST_RETRY_MS;
  /** The resync running now, and whether another was asked for meanwhile (it runs once this one ends). */
  private running?: Promise<void>;
  private again = false;

  constructor(
    private readonly table: DeploymentTable,
    private readonly rpc: RpcClient,
    private readonly subscriber: EventSubscriber,
    @Inject(SETTINGS) private readonly settings: InvokerSettingsValues,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.subscriber.subscribe({
      queue: 'invoker.deployments',
      broadcast: true,
      bindings: ['deployment.*.*', eventBinding(EventNames.FunctionDeleted)],
      handler: (events) => this.onEvents(events),
      // The first connect too: in the background, as the deployer may start after the invoker.
      onConnect: () => this.resyncSoon('connected to RabbitMQ'),
    });
    this.periodic = setInterval(() => this.resyncSoon('periodic'), this.settings.INVOKER_RESYNC_INTERVAL_MS);
    this.periodic.unref();
  }

  /** Runs a resync, or one more after the one running now; never two at once. */
  resyncSoon(why: string): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = this.resync(why).finally(() => {
      this.running = undefined;
      if (this.again) {
        this.again = false;
        this.resyncSoon(why);
      }
    });
  }

  /** Waits for the resync running now (if any), for tests and shutdown. */
  async settled(): Promise<void> {
    while (this.running) await this.running;
  }

  private async resync(why: string): Promise<void> {
    const mark = this.table.mark();
    let views: InvokerDeployment[];
    try {
      views = await this.rpc.call<InvokerDeployment[]>('deployer', DeploymentPatterns.ListActive, {} satisfies ListActiveDeploymentsQuery);
    } catch (err) {
      // Said once; then quietly retried with a growing pause until the deployer answers.
      const say = this.retryMs === FIRST_RETRY_MS ? 'warn' : 'debug';
      this.logger[say](`could not list the active deployments (${(err as Error).message}); retrying until the deployer answers`);
      if (this.retry) clearTimeout(this.retry);
      this.retry = setTimeout(() => this.resyncSoon(why), this.retryMs);
      this.retry.unref();
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      return;
    }
    this.retryMs = FIRST_RETRY_MS;
    const listed = new Set<string>();
    for (const view of views) {
      listed.add(view.functionId);
      this.table.forget(view.functionId, view.label);
      // An event or a PUT after the list was read is newer than the list.
      if (this.table.changedSince(view.functionId, mark)) continue;
      const current = this.table.find(view.functionId);
      // Not here yet: a local one without warm instances waits for its first invocation.
      if (!current && view.driver === 'local' && !(view.spec?.config?.scaling?.minInstances > 0)) continue;
      if (current && current.order.deploymentId !== view.id) this.logger.log(`resync (${why}): ${view.label} is now deployment ${view.id}`);
      try {
        await this.table.install(this.table.orderOf(view));
      } catch (err) {
        this.logger.warn(`could not start ${view.spec?.label ?? view.functionId}: ${(err as Error).message}`);
      }
    }
    // Installed here and not listed: undeployed, or between two deployments. Asked one by one, which says which.
    for (const functionId of this.table.functionIds()) {
      if (listed.has(functionId) || this.table.changedSince(functionId, mark)) continue;
      await this.recheck(functionId, mark, why);
    }
  }

  /** One function ListActive did not list: removed when it has no deployment that runs, replaced when it has another. */
  private async recheck(functionId: string, mark: number, why: string): Promise<void> {
    let view: InvokerDeployment | undefined;
    try {
      view = await this.rpc.call<InvokerDeployment>('deployer', DeploymentPatterns.GetForFunction, { functionId } satisfies FunctionDeploymentQuery);
    } catch (err) {
      if ((err as DomainError).statusCode !== 404) {
        this.logger.warn(`resync (${why}): could not check ${functionId} (${(err as Error).message}); kept until the next resync`);
        return;
      }
    }
    if (this.table.changedSince(functionId, mark)) return;
    try {
      if (!view || (view.status !== 'READY' && view.status !== 'DEPLOYING')) {
        if (await this.table.remove(functionId)) this.logger.log(`resync (${why}): ${functionId} is no longer deployed`);
      } else await this.table.install(this.table.orderOf(view));
    } catch (err) {
      this.logger.warn(`resync (${why}): could not apply the deployment of ${functionId}: ${(err as Error).message}`);
    }
  }

  async onEvents(events: PlatformEvent[]): Promise<void> {
    for (const e of events) {
      const view = (e.payload ?? {}) as Partial<DeploymentView>;
      const deploymentId = view.id ?? (e.metadata?.deploymentId as string | undefined);
      const functionId = e.functionId ?? view.functionId;
      if (!functionId) continue;
      this.table.forget(functionId, view.label);
      try {
        if (e.name === EventNames.FunctionDeleted) await this.table.remove(functionId);
        else if (e.name === EventNames.DeploymentDeleted) await this.table.remove(functionId, deploymentId);
        else if (e.name === EventNames.DeploymentReady) await this.refresh(functionId, deploymentId, e.metadata?.revision as number | undefined);
      } catch (err) {
        this.logger.warn(`could not apply ${e.name} for ${functionId}: ${(err as Error).message}`);
      }
    }
  }

  /** A new deployment (or new routing) of a function this invoker runs: fetch it (with its env) and swap what changed. */
  private async refresh(functionId: string, deploymentId: string | undefined, revision: number | undefined): Promise<void> {
    const current = this.table.find(functionId);
    if (!current) return;
    if (current.order.deploymentId === deploymentId && (revision === undefined || revision === current.order.routing.revision)) return;
    const view = await this.rpc.call<InvokerDeployment>('deployer', DeploymentPatterns.GetForFunction, { functionId });
    if (view.status === 'READY') await this.table.install(this.table.orderOf(view));
  }

  onApplicationShutdown(): void {
    this.stopped = true;
    if (this.retry) clearTimeout(this.retry);
    if (this.periodic) clearInterval(this.periodic);
  }
}
