import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import {
  DeploymentPatterns,
  DeploymentView,
  eventBinding,
  EventNames,
  InvokerDeployment,
  ListActiveDeploymentsQuery,
  PlatformEvent,
} from '@platform/contracts';
import { EventSubscriber, RpcClient } from '@platform/messaging';
import { DeploymentTable } from './deployment-table';

const FIRST_RETRY_MS = 1_000;
const MAX_RETRY_MS = 30_000;

/**
 * Keeps the table in step with the deployer: the active deployments at start (ListActive; those
 * with warm instances or on Knative are installed at once, the others on first use) and every
 * deployment.* and function.deleted event after that (broadcast: each invoker replica hears them).
 */
@Injectable()
export class DeploymentSync implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeploymentSync.name);
  private stopped = false;
  private retry?: NodeJS.Timeout;
  private retryMs = FIRST_RETRY_MS;

  constructor(
    private readonly table: DeploymentTable,
    private readonly rpc: RpcClient,
    private readonly subscriber: EventSubscriber,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    await this.subscriber.subscribe({
      queue: 'invoker.deployments',
      broadcast: true,
      bindings: ['deployment.*.*', eventBinding(EventNames.FunctionDeleted)],
      handler: (events) => this.onEvents(events),
    });
    // In the background: the deployer may start after the invoker.
    void this.loadActive();
  }

  private async loadActive(): Promise<void> {
    if (this.stopped) return;
    let views: InvokerDeployment[];
    try {
      views = await this.rpc.call<InvokerDeployment[]>('deployer', DeploymentPatterns.ListActive, {} satisfies ListActiveDeploymentsQuery);
    } catch (err) {
      // Said once; then quietly retried with a growing pause until the deployer answers.
      const say = this.retryMs === FIRST_RETRY_MS ? 'warn' : 'debug';
      this.logger[say](`could not list the active deployments (${(err as Error).message}); retrying until the deployer answers`);
      this.retry = setTimeout(() => void this.loadActive(), this.retryMs);
      this.retry.unref();
      this.retryMs = Math.min(this.retryMs * 2, MAX_RETRY_MS);
      return;
    }
    for (const view of views) {
      if (view.driver === 'local' && !(view.spec?.config?.scaling?.minInstances > 0)) continue;
      try {
        await this.table.install(this.table.orderOf(view));
      } catch (err) {
        this.logger.warn(`could not start ${view.spec?.label ?? view.functionId}: ${(err as Error).message}`);
      }
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
  }
}
