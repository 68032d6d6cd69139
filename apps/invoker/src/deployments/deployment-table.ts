import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { runtimeDescriptor } from '@platform/runtimes';
import {
  DeploymentPatterns,
  InvokerDeployment,
  DomainError,
  FunctionDeploymentQuery,
  FunctionPatterns,
  FunctionRef,
  FunctionView,
  NotFoundError,
  StateError,
} from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { BundleStore } from '../bundles/bundle-store';
import { ImageStore } from '../images/image-store';
import { FunctionPool, PoolSpec, PoolStatus } from '../pools/function-pool';
import { InvokerSettingsValues } from '../settings';
import { LaunchFailure, WorkerLauncher } from '../workers/worker-launcher';
import { DeploymentOrder, parseOrder, poolKey } from './deployment-request';

/** A function this invoker can run: a local pool, or the URL of its Knative Service. */
export interface Deployed {
  order: DeploymentOrder;
  pool?: FunctionPool;
  /** Every version the deployment runs, by number (its own included): where a qualifier or a split sends an invocation. */
  variants?: Map<number, Deployed>;
}

/** Each version a deployment runs, once. */
export function versionsOf(d: Deployed | undefined): Deployed[] {
  if (!d) return [];
  return d.variants ? [...d.variants.values()] : [d];
}

/** Same deployment, same versions, same routing: nothing to do. */
function sameRun(a: DeploymentOrder, b: DeploymentOrder): boolean {
  const shape = (o: DeploymentOrder) => JSON.stringify([o.spec.bundleDigest, o.routing, o.versions.map((v) => [v.spec.version, v.spec.bundleDigest, v.url])]);
  return shape(a) === shape(b);
}

/** How long "not deployed" / "no such function" answers are remembered, so a flood of bad requests stays cheap. */
const MISS_TTL_MS = 1_000;
const MAX_MISSES = 10_000;

/**
 * Which functions run here, by id and by label. Filled by the deployer (PUT /deployments, ListActive,
 * deployment.* events) and on demand: a request for an unknown function asks the deployer
 * (GetForFunction), then the registry (Resolve) to answer 404 (no such function) or 409 (not deployed).
 */
@Injectable()
export class DeploymentTable implements OnApplicationShutdown {
  private readonly logger = new Logger(DeploymentTable.name);
  private readonly byId = new Map<string, Deployed>();
  private readonly byLabel = new Map<string, Deployed>();
  private readonly lookups = new Map<string, Promise<Deployed>>();
  private readonly misses = new Map<string, { error: DomainError; until: number }>();
  /** Installs and removes of one function run one after the other (the last change queued, by function id). */
  private readonly installing = new Map<string, Promise<unknown>>();
  /** Counts changes (installs and removals); `changed` holds each function's last, so a resync skips newer news. */
  private changes = 0;
  private readonly changed = new Map<string, number>();

  constructor(
    private readonly rpc: RpcClient,
    private readonly bundles: BundleStore,
    private readonly launcher: WorkerLauncher,
    private readonly images: ImageStore,
    @Inject(SETTINGS) private readonly settings: InvokerSettingsValues,
  ) {}

  /** A point in the table's history, for changedSince. */
  mark(): number {
    return this.changes;
  }

  /** Whether a function was installed or removed after `mark` (by an event or a PUT the resync did not see). */
  changedSince(functionId: string, mark: number): boolean {
    return (this.changed.get(functionId) ?? -1) > mark;
  }

  /** The functions installed here. */
  functionIds(): string[] {
    return [...this.byId.keys()];
  }

  private noteChange(functionId: string): void {
    this.changes += 1;
    this.changed.set(functionId, this.changes);
  }

  find(idOrLabel: string): Deployed | undefined {
    return this.byId.get(idOrLabel) ?? this.byLabel.get(idOrLabel);
  }

  /** The deployment of a function, looked up when this invoker does not know it yet. */
  resolve(idOrLabel: string): Promise<Deployed> {
    const known = this.find(idOrLabel);
    if (known) return Promise.resolve(known);
    const miss = this.misses.get(idOrLabel);
    if (miss && miss.until > Date.now()) return Promise.reject(miss.error);
    let lookup = this.lookups.get(idOrLabel);
    if (!lookup) {
      lookup = this.lookup(idOrLabel).finally(() => this.lookups.delete(idOrLabel));
      this.lookups.set(idOrLabel, lookup);
    }
    return lookup;
  }

  private async lookup(idOrLabel: string): Promise<Deployed> {
    let view: InvokerDeployment;
    try {
      view = await this.rpc.call<InvokerDeployment>('deployer', DeploymentPatterns.GetForFunction, { functionId: idOrLabel } satisfies FunctionDeploymentQuery);
    } catch (err) {
      if ((err as DomainError).statusCode === 404) throw await this.notDeployed(idOrLabel);
      throw err;
    }
    if (view.status !== 'READY' && view.status !== 'DEPLOYING') throw await this.notDeployed(idOrLabel, view.status);
    return this.install(this.orderOf(view));
  }

  orderOf(view: InvokerDeployment): DeploymentOrder {
    return parseOrder(
      view.functionId,
      { deploymentId: view.id, spec: view.spec, env: view.env ?? {}, secrets: view.secrets ?? [], versions: view.versions ?? [], routing: view.routing },
      view.driver,
      view.endpoint,
    );
  }

  private async notDeployed(idOrLabel: string, status?: string): Promise<DomainError> {
    let error: DomainError;
    try {
      const fn = await this.rpc.call<FunctionView>('function-registry', FunctionPatterns.Resolve, { id: idOrLabel } satisfies FunctionRef);
      const last = status ? ` (its last deployment is ${status})` : '';
      error = new StateError(`function ${fn.label} is not deployed${last}; deploy it with POST /api/v1/functions/deploy/${fn.id}`);
    } catch (err) {
      if ((err as DomainError).statusCode !== 404) throw err;
      error = new NotFoundError(`no function has the id or label "${idOrLabel}"`);
    }
    if (this.misses.size >= MAX_MISSES) this.misses.clear();
    this.misses.set(idOrLabel, { error, until: Date.now() + MISS_TTL_MS });
    return error;
  }

  /** Installs (or replaces) a function's deployment; for a local one, once its minimum instances run. */
  install(order: DeploymentOrder): Promise<Deployed> {
    return this.inTurn(order.spec.functionId, () => this.installNow(order));
  }

  /**
   * Changes to one function's deployment run one after the other, installs and removes alike: a remove that came
   * while an install of the same deployment was starting its pools waits for it, then removes what it installed
   * (otherwise the install would finish after the remove and leave a removed deployment running).
   */
  private inTurn<T>(functionId: string, change: () => Promise<T>): Promise<T> {
    const previous = this.installing.get(functionId) ?? Promise.resolve();
    const next = previous.catch(() => undefined).then(change);
    this.installing.set(functionId, next);
    void next
      .catch(() => undefined)
      .then(() => {
        if (this.installing.get(functionId) === next) this.installing.delete(functionId);
      });
    return next;
  }

  private async installNow(order: DeploymentOrder): Promise<Deployed> {
    const { spec } = order;
    const current = this.byId.get(spec.functionId);
    if (current && current.order.deploymentId === order.deploymentId && sameRun(current.order, order)) return current;
    // Pools that run the same thing (version, bundle, config, env) are kept: a routing change restarts nothing.
    const reusable = new Map<string, FunctionPool>();
    for (const d of versionsOf(current)) if (d.pool) reusable.set(poolKey(d.order), d.pool);
    const kept = new Set<FunctionPool>();
    const created: FunctionPool[] = [];
    const place = async (o: DeploymentOrder): Promise<Deployed> => {
      if (o.driver !== 'local') return { order: o };
      const reuse = reusable.get(poolKey(o));
      if (reuse) {
        kept.add(reuse);
        return { order: o, pool: reuse };
      }
      const pool = await this.startPool(o);
      created.push(pool);
      return { order: o, pool };
    };
    let deployed: Deployed;
    try {
      deployed = await place(order);
      const variants = new Map<number, Deployed>([[spec.version, deployed]]);
      for (const v of order.versions) variants.set(v.spec.version, await place(v));
      deployed.variants = variants;
    } catch (err) {
      // All or nothing: what ran before goes on running as it was.
      for (const pool of created) {
        this.retire(pool);
        pool.close();
      }
      throw err;
    }
    const replaced = this.byId.get(spec.functionId);
    if (replaced) this.byLabel.delete(replaced.order.spec.label);
    this.byId.set(spec.functionId, deployed);
    this.byLabel.set(spec.label, deployed);
    this.noteChange(spec.functionId);
    this.misses.delete(spec.functionId);
    this.misses.delete(spec.label);
    for (const d of versionsOf(replaced)) if (d.pool && !kept.has(d.pool)) this.retire(d.pool);
    const others = order.versions.length ? ` with v${order.versions.map((v) => v.spec.version).join(', v')}` : '';
    this.logger.log(
      `function ${spec.label} v${spec.version}${others} deployed here (${order.driver}, deployment ${order.deploymentId}, routing ${order.routing.revision})`,
    );
    return deployed;
  }

  /** A local pool for one version, once its minimum instances run. */
  private async startPool(order: DeploymentOrder): Promise<FunctionPool> {
    const { spec } = order;
    // Said at deploy time, even when no instance starts before the first invocation.
    const noEgress = spec.config.network.egress ? this.launcher.egressProblem() : undefined;
    if (noEgress)
      throw new DomainError(503, `function ${spec.label} cannot run: it needs network egress (network.egress), which this invoker cannot give: ${noEgress}`);
    const bundle = await this.bundles.acquire(spec.bundleDigest);
    if (bundle.manifest?.family && bundle.manifest.family !== spec.family) {
      this.bundles.release(bundle);
      throw new StateError(`bundle ${spec.bundleDigest} holds a ${bundle.manifest.family} function, but the deployment says ${spec.family}`);
    }
    // An image function runs from its image's layers: pulled and unpacked before the deployment is answered.
    // The pool holds the image (its tree stays on disk) until its last worker is gone.
    let image: PoolSpec['image'];
    if (runsImage(spec.family)) {
      try {
        const pinned = await this.images.imageOf(bundle.dir);
        image = { rootfs: await this.images.acquire(pinned), config: pinned.config, manifestDigest: pinned.manifestDigest };
      } catch (err) {
        this.bundles.release(bundle);
        throw err;
      }
    }
    const pool = new FunctionPool(
      {
        deploymentId: order.deploymentId,
        functionId: spec.functionId,
        label: spec.label,
        version: spec.version,
        family: spec.family,
        runtimeVersion: spec.runtimeVersion,
        bundle,
        entrypoint: spec.entrypoint,
        env: order.env,
        config: spec.config,
        image,
        readyTimeoutMs: Math.max(1000, this.settings.INVOKER_LOAD_TIMEOUT_MS - 500),
      },
      this.launcher,
      this.logger,
    );
    try {
      await pool.start();
    } catch (err) {
      this.retire(pool);
      pool.close();
      if (err instanceof LaunchFailure)
        throw new DomainError(err.kind === 'capacity' || err.kind === 'system' ? 503 : 422, `function ${spec.label} cannot run: ${err.message}`);
      throw err;
    }
    return pool;
  }

  /**
   * Removes a function (only that deployment, when named), after any install of it in progress; its in-flight
   * invocations still finish. False when it was not here (or another deployment of it is).
   */
  remove(idOrLabel: string, deploymentId?: string): Promise<boolean> {
    this.forget(idOrLabel);
    const functionId = this.find(idOrLabel)?.order.spec.functionId ?? idOrLabel;
    return this.inTurn(functionId, () => Promise.resolve(this.removeNow(idOrLabel, deploymentId)));
  }

  private removeNow(idOrLabel: string, deploymentId?: string): boolean {
    const d = this.find(idOrLabel);
    this.forget(idOrLabel);
    if (!d || (deploymentId && d.order.deploymentId !== deploymentId)) return false;
    this.byId.delete(d.order.spec.functionId);
    this.byLabel.delete(d.order.spec.label);
    this.noteChange(d.order.spec.functionId);
    for (const v of versionsOf(d)) if (v.pool) this.retire(v.pool);
    this.logger.log(`function ${d.order.spec.label} removed from this invoker`);
    return true;
  }

  /** Stops a pool; once its last worker is gone, its bundle and image are released (and removed if nothing else uses them). */
  private retire(pool: FunctionPool): void {
    pool.retire();
    void pool.drained.then(() => {
      this.bundles.release(pool.spec.bundle);
      if (pool.spec.image) void this.images.release(pool.spec.image.manifestDigest);
    });
  }

  /** Drops remembered "not deployed" answers, e.g. when a deployment event says that changed. */
  forget(...keys: Array<string | null | undefined>): void {
    for (const k of keys) if (k) this.misses.delete(k);
  }

  list(): Array<PoolStatus | { functionId: string; label: string; version: number; deploymentId: string; driver: 'knative'; url: string | null }> {
    return [...this.byId.values()].flatMap(versionsOf).map(
      (d) =>
        d.pool?.status() ?? {
          functionId: d.order.spec.functionId,
          label: d.order.spec.label,
          version: d.order.spec.version,
          deploymentId: d.order.deploymentId,
          driver: 'knative' as const,
          url: d.order.url,
        },
    );
  }

  onApplicationShutdown(): void {
    for (const d of [...this.byId.values()].flatMap(versionsOf)) d.pool?.close();
    this.byId.clear();
    this.byLabel.clear();
  }
}

/** Whether a runtime's functions run from an image's rootfs (the image runtime) rather than from a bundle on the host's root. */
function runsImage(family: string): boolean {
  return runtimeDescriptor(family).worker.root === 'image';
}
