import { Inject, Injectable, Logger } from '@nestjs/common';
import {
  DeploymentDriverName,
  DeploymentView,
  DomainError,
  InvokerDeployment,
  EventNames,
  FunctionRuntimeSpec,
  FunctionStatus,
  NotFoundError,
  SetDeploymentStatusCommand,
  StateError,
  UnavailableError,
} from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';
import { DeploymentDriver, DeploymentFailure, DriverVersion } from '../drivers/driver';
import { Drivers } from '../drivers/drivers';
import { RegistryClient } from '../registry/registry.client';
import { TriggerWiring } from '../triggers/trigger-wiring.service';
import { DeploymentEvents } from './deployment-events';
import { Deployment, toInvokerDeployment, toView } from './deployment.entity';
import { DeploymentStore } from './deployment.store';
import { carryOver } from './routing';

/**
 * Deploy, undeploy and look up deployments. The registry's status and the deployment row move together:
 * DEPLOYING, then READY, or FAILED with the reason; a deployment is never left DEPLOYING after an error.
 */
@Injectable()
export class DeploymentsService {
  private readonly logger = new Logger(DeploymentsService.name);
  /** A DEPLOYING row whose lease was not renewed for this long was left by a deployer that stopped mid-way. */
  readonly leaseMs: number;
  private readonly renewMs: number;

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly store: DeploymentStore,
    private readonly registry: RegistryClient,
    private readonly drivers: Drivers,
    private readonly triggers: TriggerWiring,
    private readonly events: DeploymentEvents,
  ) {
    this.leaseMs = settings.DEPLOYER_DEPLOY_LEASE_MS;
    this.renewMs = settings.DEPLOYER_DEPLOY_LEASE_RENEW_MS;
    if (this.renewMs * 2 > this.leaseMs) {
      throw new Error(
        `DEPLOYER_DEPLOY_LEASE_RENEW_MS=${this.renewMs} must be at most half of DEPLOYER_DEPLOY_LEASE_MS=${this.leaseMs}, or a lease runs out before it is renewed`,
      );
    }
  }

  /**
   * Deploys the function's current version, or `version`. The new deployment keeps the aliases of the one it
   * replaces (and runs the versions they name); a split or canary ends. If it fails, the one it replaced serves again.
   */
  async deploy(idOrLabel: string, version?: number): Promise<DeploymentView> {
    // Everything that can be refused is asked before anything changes: 404, 409 (no build), a missing secret.
    const spec = await this.registry.runtimeSpec(idOrLabel, version);
    const driverName: DeploymentDriverName = spec.config.target ?? (this.settings.DEPLOYER_DEFAULT_DRIVER as DeploymentDriverName);
    const driver = this.drivers.get(driverName);
    // The row keeps the plain env only; secret values go to the driver and are read again for each invoker's answer.
    const resolved = driver.resolvesSecrets ? await this.resolvedEnv(spec, spec.config.env) : null;

    let served: Deployment | null = null;
    const { deployment, previous } = await this.store.begin(spec, driverName, resolved ? { ...spec.config.env } : null, this.leaseMs, (p) => {
      served = p;
      return carryOver(p && p.driver === driverName ? p : null, spec);
    });
    // While this process deploys, it renews the deployment's lease; if it dies, the lease runs out within
    // DEPLOYER_DEPLOY_LEASE_MS and another deployer takes over (takeOverExpired) instead of the function being stuck.
    const heartbeat = setInterval(() => {
      this.store.renewLease(deployment.id).then(
        (held) => held || this.logger.debug(`deployment ${deployment.id} is no longer in progress here; its lease is not renewed`),
        (err: unknown) => this.logger.warn(`renewing the lease of deployment ${deployment.id} failed: ${(err as Error).message}`),
      );
    }, this.renewMs);
    heartbeat.unref();
    try {
      return await this.runDeploy(deployment, previous, served, spec, driverName, driver, resolved);
    } finally {
      clearInterval(heartbeat);
    }
  }

  private async runDeploy(
    deployment: Deployment,
    previous: Deployment | null,
    served: Deployment | null,
    spec: FunctionRuntimeSpec,
    driverName: DeploymentDriverName,
    driver: DeploymentDriver,
    resolved: { env: Record<string, string>; secrets: string[] } | null,
  ): Promise<DeploymentView> {
    await this.events.publish(EventNames.DeploymentStarted, deployment);
    try {
      await this.registry.setStatus(spec.functionId, spec.version, FunctionStatus.Deploying);
      // Switching drivers: what ran on the old one goes, or the function would run twice.
      if (previous && previous.driver !== driverName) {
        await this.drivers
          .get(previous.driver)
          .remove(previous)
          .catch((e) => {
            throw new DeploymentFailure(`could not remove the previous ${previous.driver} deployment: ${(e as Error).message}`);
          });
      }
      const { url } = await driver.deploy({
        deploymentId: deployment.id,
        spec,
        env: resolved?.env ?? {},
        secrets: resolved?.secrets ?? [],
        versions: await this.driverVersions(deployment),
        routing: deployment.routing,
      });
      const ready = await this.store.transition(deployment.id, ['DEPLOYING'], 'READY', { url, reason: null });
      if (ready?.status !== 'READY') throw new DeploymentFailure(`deployment ${deployment.id} was changed by someone else while it deployed`);
      await this.store.markServed(ready.id);
      await this.triggers.reconcile(spec.functionId).catch((e) => {
        throw new DeploymentFailure(`could not wire the triggers: ${(e as Error).message}`);
      });
      await this.registry.setStatus(spec.functionId, spec.version, FunctionStatus.Ready);
      await this.events.publish(EventNames.DeploymentReady, ready);
      this.logger.log(`deployed ${spec.label} v${spec.version} (${driverName}) as ${deployment.id}`);
      return toView(ready);
    } catch (err) {
      // Taken over meanwhile (this process lost its lease: another deployer marked it FAILED and put the previous
      // version back): what runs now is that one's doing, so nothing here is undone.
      const now = await this.store.get(deployment.id).catch(() => null);
      if (now && now.status !== 'DEPLOYING' && now.status !== 'READY') {
        this.logger.warn(`deployment ${deployment.id} of ${spec.label} was taken over by another deployer (${now.status}: ${now.reason}); leaving it as it is`);
        return toView(now);
      }
      const failed = await this.fail(deployment, err, served && served.driver === driverName ? served : null);
      if (err instanceof DeploymentFailure) return toView(failed);
      throw err;
    }
  }

  /** Deploys the version that served before the current one (or `to`). */
  async rollback(idOrLabel: string, to?: number): Promise<DeploymentView> {
    const current = await this.store.current(idOrLabel);
    if (!current || current.status !== 'READY') throw new NotFoundError(`function ${idOrLabel} is not deployed; there is nothing to roll back`);
    if (to === undefined) {
      const before = await this.store.previousServed(current.functionId, current.version);
      if (!before) throw new StateError(`function ${current.label} has served only version ${current.version}; there is no earlier version to roll back to`);
      to = before.version;
    }
    if (to === current.version) throw new StateError(`function ${current.label} already runs version ${to}`);
    return this.deploy(current.functionId, to);
  }

  /**
   * FAILED with the reason. When it replaced one that served, that one serves again (in the row, on the driver and in
   * the triggers) and the failed one is set aside; otherwise whatever the driver started is removed.
   */
  private async fail(deployment: Deployment, err: unknown, served: Deployment | null): Promise<Deployment> {
    const reason = err instanceof DeploymentFailure || err instanceof DomainError ? err.message : `internal error: ${(err as Error)?.message ?? err}`;
    if (!(err instanceof DeploymentFailure)) this.logger.error(`deploying ${deployment.label} failed: ${(err as Error)?.stack ?? err}`);
    const restored = served ? await this.store.restore(deployment.id, served.id, `FAILED: ${reason}; version ${served.version} serves again`) : null;
    if (restored) {
      const failed = { ...deployment, status: 'FAILED' as const, reason: `${reason}; version ${restored.version} keeps serving` };
      await this.redeploy(restored).catch((e) => this.logger.error(`could not put ${restored.label} v${restored.version} back: ${(e as Error).message}`));
      await this.triggers.reconcile(deployment.functionId).catch((e) => this.logger.warn(`rewiring triggers of ${deployment.label}: ${(e as Error).message}`));
      await this.registry
        .setStatus(deployment.functionId, deployment.version, FunctionStatus.Failed, `deployment of version ${deployment.version} failed: ${failed.reason}`)
        .catch((e) => this.logger.error(`could not mark ${deployment.label} FAILED in the registry: ${(e as Error).message}`));
      await this.events.publish(EventNames.DeploymentFailed, failed);
      await this.events.publish(EventNames.DeploymentReady, restored);
      this.logger.warn(`deploying ${deployment.label} v${deployment.version} failed (${reason}); v${restored.version} serves again`);
      return failed;
    }
    const failed = (await this.store.transition(deployment.id, ['DEPLOYING', 'READY'], 'FAILED', { reason })) ?? deployment;
    await this.drivers
      .get(deployment.driver)
      .remove(deployment)
      .catch((e) => this.logger.warn(`cleanup of failed deployment ${deployment.id}: ${(e as Error).message}`));
    await this.triggers.reconcile(deployment.functionId).catch((e) => this.logger.warn(`unwiring triggers of ${deployment.label}: ${(e as Error).message}`));
    await this.registry
      .setStatus(deployment.functionId, deployment.version, FunctionStatus.Failed, reason)
      .catch((e) => this.logger.error(`could not mark ${deployment.label} FAILED in the registry: ${(e as Error).message}`));
    await this.events.publish(EventNames.DeploymentFailed, failed);
    return failed;
  }

  /** Tells the driver what a deployment runs now (after a routing change, or to put it back after a failure). */
  async redeploy(d: Deployment): Promise<{ url: string | null }> {
    const driver = this.drivers.get(d.driver);
    const resolved = driver.resolvesSecrets ? await this.resolvedEnv(d.spec, d.env ?? d.spec.config.env) : null;
    return driver.deploy({
      deploymentId: d.id,
      spec: d.spec,
      env: resolved?.env ?? {},
      secrets: resolved?.secrets ?? [],
      versions: await this.driverVersions(d),
      routing: d.routing,
    });
  }

  /** The other versions of a deployment, with their env resolved for a driver that needs it. */
  private async driverVersions(d: Deployment): Promise<DriverVersion[]> {
    const driver = this.drivers.get(d.driver);
    return Promise.all(
      (d.versions ?? []).map(async (v) => {
        if (!driver.resolvesSecrets) return { spec: v.spec, env: {} };
        const { env, secrets } = await this.resolvedEnv(v.spec, v.env ?? v.spec.config.env);
        return { spec: v.spec, env, secrets };
      }),
    );
  }

  /** Removes the function's deployment and its triggers. `notifyRegistry` is false when the function is gone. */
  async undeploy(idOrLabel: string, notifyRegistry = true): Promise<DeploymentView> {
    const current = await this.store.current(idOrLabel);
    if (!current) throw new NotFoundError(`function ${idOrLabel} is not deployed`);
    if (current.status === 'DEPLOYING' && (await this.store.leaseAlive(current.id, this.leaseMs))) {
      throw new StateError(`function ${current.label} is being deployed (deployment ${current.id}); wait for it to finish and try again`);
    }
    await this.drivers
      .get(current.driver)
      .remove(current)
      .catch((e) => {
        // The deployment stays as it is, so undeploying again later finishes the job.
        throw e instanceof DomainError ? e : new UnavailableError(`could not remove ${current.label} from ${current.driver}: ${(e as Error).message}`);
      });
    const deleted = await this.store.transition(current.id, ['DEPLOYING', 'READY', 'FAILED'], 'DELETED', {
      reason: notifyRegistry ? 'undeployed' : 'function deleted',
    });
    await this.triggers.reconcile(current.functionId);
    if (notifyRegistry) {
      // Deployed no more: the function is back to its built state.
      await this.registry
        .setStatus(current.functionId, current.version, FunctionStatus.Built as SetDeploymentStatusCommand['status'], 'undeployed')
        .catch((e) => this.logger.warn(`the registry refused to take ${current.label} back to BUILT after the undeploy: ${(e as Error).message}`));
    }
    const view = deleted ?? current;
    await this.events.publish(EventNames.DeploymentDeleted, view);
    this.logger.log(`undeployed ${current.label} (${current.id})`);
    return toView(view);
  }

  /** function.deleted: its deployment and triggers go too (nothing to do when it was never deployed). */
  async onFunctionDeleted(functionId: string): Promise<void> {
    if (!(await this.store.current(functionId))) {
      await this.triggers.reconcile(functionId);
      return;
    }
    try {
      await this.undeploy(functionId, false);
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }

  async get(id: string): Promise<DeploymentView> {
    const d = await this.store.get(id);
    if (!d) throw new NotFoundError(`deployment ${id} does not exist`);
    return toView(d);
  }

  /** For invokers: includes the resolved env of local deployments (secret values read from the registry now). */
  async getForFunction(idOrLabel: string): Promise<InvokerDeployment> {
    const d = await this.store.current(idOrLabel);
    if (!d) throw new NotFoundError(`function ${idOrLabel} is not deployed`);
    return this.forInvoker(d);
  }

  async listActive(driver?: DeploymentDriverName): Promise<InvokerDeployment[]> {
    return Promise.all((await this.store.listReady(driver)).map((d) => this.forInvoker(d)));
  }

  private async forInvoker(d: Deployment): Promise<InvokerDeployment> {
    const view = toInvokerDeployment(d);
    if (d.driver !== 'local') return view;
    const { env, secrets } = await this.resolvedEnv(d.spec, d.env ?? d.spec.config.env);
    const versions = (await this.driverVersions(d)).map((v) => ({ spec: v.spec, env: v.env, secrets: v.secrets ?? [] }));
    return { ...view, env, secrets, versions };
  }

  /**
   * The plain env with the secret values of the version `spec` runs added, and which names those are: an older
   * version (a rollback, an alias, a split) gets the secrets its own config names, not those of the current one.
   */
  async resolvedEnv(spec: FunctionRuntimeSpec, plain: Record<string, string>): Promise<{ env: Record<string, string>; secrets: string[] }> {
    const values = spec.config.secrets.length > 0 ? await this.registry.resolveSecrets(spec.functionId, spec.version) : {};
    return { env: { ...plain, ...values }, secrets: Object.keys(values) };
  }

  /**
   * Deployments whose deployer stopped renewing their lease (it died or lost the database mid-deploy) are taken
   * over: FAILED, in the registry too, and the version each replaced serves again (or what it started is removed),
   * so the function takes a new deploy within DEPLOYER_DEPLOY_LEASE_MS instead of being stuck. Run at start and
   * every DEPLOYER_DEPLOY_LEASE_RENEW_MS by every replica; one UPDATE decides which takes each.
   */
  async takeOverExpired(): Promise<void> {
    const reason = 'the deployer stopped while this deployment was in progress; deploy again';
    for (const d of await this.store.claimExpired(this.leaseMs, reason)) {
      const replaced = await this.store.replacedBy(d.id);
      this.logger.warn(`deployment ${d.id} of ${d.label} lost its deployer (no lease renewal for ${this.leaseMs} ms); taking it over`);
      await this.fail(d, new DeploymentFailure(reason), replaced && replaced.driver === d.driver ? replaced : null);
    }
  }
}
