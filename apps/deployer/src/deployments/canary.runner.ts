import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { CanaryView, EventPatterns, InvocationStats, InvocationStatsQuery } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { DeployerSettingsValues } from '../settings';
import { Deployment } from './deployment.entity';
import { DeploymentStore } from './deployment.store';
import { DeploymentsService } from './deployments.service';
import { canarySplits, judgeCanary } from './routing';
import { TrafficService } from './traffic.service';

/** How often running canaries are looked at; their own intervalSeconds say when a step ends. */
export const CANARY_TICK_MS = 1_000;

/**
 * Moves canaries on, as Fission's canary config does: each look reads the canary version's error rate since its step
 * began from the event store's stats; above maxErrorRate the traffic goes back to the baseline at once, otherwise the
 * share grows a step each interval and the last step deploys the canary version. Every deployer replica looks; the
 * routing's revision lets only one of them apply each move.
 */
@Injectable()
export class CanaryRunner implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(CanaryRunner.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly store: DeploymentStore,
    private readonly traffic: TrafficService,
    private readonly deployments: DeploymentsService,
    private readonly rpc: RpcClient,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => {
      if (!this.running) this.running = this.tick().finally(() => (this.running = undefined));
    }, CANARY_TICK_MS);
    this.timer.unref();
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await this.running;
  }

  async tick(now = new Date()): Promise<void> {
    let canaries: Deployment[];
    try {
      canaries = await this.store.runningCanaries();
    } catch (err) {
      this.logger.warn(`could not list running canaries: ${(err as Error).message}`);
      return;
    }
    for (const d of canaries) {
      await this.step(d, now).catch((e) => this.logger.warn(`canary of ${d.label}: ${(e as Error).message}`));
    }
  }

  private async step(d: Deployment, now: Date): Promise<void> {
    const c = d.canary!;
    const query: InvocationStatsQuery = { functionId: d.functionId, version: c.version, from: c.stepStartedAt };
    const stats = await this.rpc.call<InvocationStats>('event-store', EventPatterns.Stats, query, this.settings.DEPLOYER_EVENT_STORE_TIMEOUT_MS);
    const decision = judgeCanary(c, stats, now);
    if (decision.action === 'wait') return;
    if (decision.action === 'rollback') {
      const back: CanaryView = { ...c, state: 'ROLLED_BACK', reason: decision.reason };
      await this.traffic.apply(d, { ...d.routing, splits: null, revision: d.routing.revision + 1 }, back);
      this.logger.warn(`canary of ${d.label} rolled back: ${decision.reason}`);
      return;
    }
    if (decision.action === 'advance') {
      const next: CanaryView = { ...c, step: c.step + 1, stepStartedAt: now.toISOString() };
      await this.traffic.apply(d, { ...d.routing, splits: canarySplits(next), revision: d.routing.revision + 1 }, next);
      this.logger.log(`canary of ${d.label}: version ${c.version} now takes ${next.steps[next.step]}%`);
      return;
    }
    // Promote: first mark it (so no other replica promotes it too), then deploy the canary version.
    const promoted: CanaryView = {
      ...c,
      step: c.steps.length - 1,
      state: 'PROMOTED',
      reason: `version ${c.version} passed every step (error rate ${stats.errorRate.toFixed(3)} <= ${c.maxErrorRate}); deployed`,
    };
    const marked = await this.store.updateRouting(d.id, d.routing.revision, {
      versions: d.versions,
      routing: { ...d.routing, revision: d.routing.revision + 1 },
      canary: promoted,
    });
    if (!marked) return;
    const view = await this.deployments.deploy(d.functionId, c.version);
    const current = await this.store.get(view.id);
    if (current?.status === 'READY')
      await this.store.updateRouting(current.id, current.routing.revision, { versions: current.versions, routing: current.routing, canary: promoted });
    this.logger.log(`canary of ${d.label}: version ${c.version} promoted (${view.status})`);
  }
}
