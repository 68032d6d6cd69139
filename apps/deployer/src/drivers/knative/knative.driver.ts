import { Inject, Injectable, Logger } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { NO_ROUTING } from '@platform/contracts';
import { DeployerSettingsValues } from '../../settings';
import { DeploymentDriver, DeploymentFailure, DriverDeployRequest } from '../driver';
import { KnativeServicesApi, KubeApiError, loadKubeConfig, WatchEvent } from './kube-api';
import { FUNCTION_ID_LABEL, knativeProblem, knativeService, KnativeService, MANAGED_BY, Readiness, readiness, versionsProblem } from './knative-service';

const APPLY_ATTEMPTS = 5;
const REWATCH_PAUSE_MS = 250;
const NO_IMAGE = 'no OCI image: configure HKS_OCI_REGISTRY on the builder';

/** Knative driver: one serving.knative.dev/v1 Service per function, watched until Ready. */
@Injectable()
export class KnativeDriver implements DeploymentDriver {
  readonly name = 'knative' as const;
  readonly resolvesSecrets = false;
  private readonly logger = new Logger(KnativeDriver.name);
  private api?: KnativeServicesApi;

  constructor(@Inject(SETTINGS) private readonly settings: DeployerSettingsValues) {}

  /** Loaded on first use, so an installation that only deploys locally needs no kubeconfig. */
  private services(): KnativeServicesApi {
    if (!this.api) {
      try {
        this.api = new KnativeServicesApi(loadKubeConfig(this.settings.KUBECONFIG), this.settings.KNATIVE_NAMESPACE);
      } catch (err) {
        throw new DeploymentFailure(`knative driver cannot reach Kubernetes: ${(err as Error).message}`);
      }
    }
    return this.api;
  }

  async deploy({ deploymentId, spec, versions, routing }: DriverDeployRequest): Promise<{ url: string | null }> {
    if (!spec.image) throw new DeploymentFailure(NO_IMAGE);
    const api = this.services();
    const timeoutMs = this.settings.KNATIVE_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    // Versions map to named revisions; the routing to the traffic block. The other versions' revisions must exist
    // already (each was the deployed version once): Knative refuses a revisionName it does not know.
    const others = (versions ?? []).map((v) => v.spec.version);
    const problem = knativeProblem(spec) ?? versionsProblem(spec, routing, others);
    if (problem) throw new DeploymentFailure(problem);
    const desired = knativeService(spec, api.namespace, deploymentId, routing ?? NO_ROUTING, others);
    try {
      await this.apply(api, desired);
    } catch (err) {
      throw new DeploymentFailure(`could not write Knative Service ${desired.metadata.name}: ${(err as Error).message}`);
    }
    const outcome = await this.waitReady(api, desired.metadata.name, deadline, timeoutMs);
    return { url: outcome.url };
  }

  async remove({ functionId, label }: { functionId: string; label: string }): Promise<void> {
    const api = this.services();
    const current = await api.get(label);
    if (!current) return;
    const owner = current.metadata.labels?.[FUNCTION_ID_LABEL];
    if (owner !== functionId) {
      // Same label, another function (deleted and re-created): its Service is not ours to remove.
      this.logger.warn(`Knative Service ${label} belongs to function ${owner ?? '(none)'}, not ${functionId}; left in place`);
      return;
    }
    await api.delete(label);
  }

  /** Create, or replace with the current resourceVersion; retries when someone else wrote in between. */
  private async apply(api: KnativeServicesApi, desired: KnativeService): Promise<KnativeService> {
    const name = desired.metadata.name;
    let lastError: unknown;
    for (let attempt = 1; attempt <= APPLY_ATTEMPTS; attempt++) {
      const current = await api.get(name);
      try {
        if (!current) return await api.create(desired);
        if (current.metadata.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY['app.kubernetes.io/managed-by']) {
          throw new DeploymentFailure(`a Knative Service named ${name} already exists in namespace ${api.namespace} and is not managed by hks`);
        }
        return await api.replace({
          ...desired,
          metadata: {
            ...desired.metadata,
            // Knative's webhook keeps its own annotations (creator is immutable): merge ours over what is there.
            labels: { ...(current.metadata.labels ?? {}), ...desired.metadata.labels },
            annotations: { ...(current.metadata.annotations ?? {}), ...desired.metadata.annotations },
            resourceVersion: current.metadata.resourceVersion,
          },
        });
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 409) {
          lastError = err; // AlreadyExists (created meanwhile) or Conflict (resourceVersion moved on): read again.
          continue;
        }
        throw err;
      }
    }
    throw lastError;
  }

  /** Watches the Service until its current generation is Ready=True (or False, or the time is up). */
  private async waitReady(api: KnativeServicesApi, name: string, deadline: number, timeoutMs: number): Promise<{ url: string | null }> {
    let last = 'no status yet';
    while (Date.now() < deadline) {
      let outcome: Readiness | 'deleted' | null = null;
      try {
        outcome = await this.watchOnce(api, name, deadline, (r) => (last = r));
      } catch (err) {
        // The watch itself failed (network, permissions): note why, look once, and try again until the deadline.
        last = (err as Error).message;
        const svc = await api.get(name).catch(() => null);
        const seen = svc ? readiness(svc) : null;
        outcome = seen?.state === 'pending' ? null : seen;
      }
      if (outcome === 'deleted') throw new DeploymentFailure(`Knative Service ${name} was deleted while it was being deployed`);
      if (outcome?.state === 'ready') return { url: outcome.url };
      if (outcome?.state === 'failed') throw new DeploymentFailure(`Knative Service ${name} is not ready: ${outcome.reason}`);
      await new Promise((r) => setTimeout(r, Math.min(REWATCH_PAUSE_MS, Math.max(0, deadline - Date.now()))));
    }
    throw new DeploymentFailure(`Knative Service ${name} did not become Ready within ${timeoutMs} ms (last: ${last})`);
  }

  /** One watch stream: resolves with the outcome, or null when the stream ended (or the deadline passed) first. */
  private async watchOnce(api: KnativeServicesApi, name: string, deadline: number, progress: (reason: string) => void): Promise<Readiness | 'deleted' | null> {
    let settle!: (v: Readiness | 'deleted' | null) => void;
    let fail!: (err: unknown) => void;
    const decided = new Promise<Readiness | 'deleted' | null>((resolve, reject) => {
      settle = resolve;
      fail = reject;
    });
    const onEvent = ({ type, object }: WatchEvent) => {
      if (type === 'DELETED') return settle('deleted');
      if (type !== 'ADDED' && type !== 'MODIFIED') return;
      const r = readiness(object);
      if (r.state === 'pending') progress(r.reason);
      else settle(r);
    };
    // The deadline also covers a server that never answers the watch request itself.
    const timer = setTimeout(() => settle(null), Math.max(0, deadline - Date.now()));
    let finished = false;
    let stop: (() => void) | undefined;
    const remaining = Math.max(1, Math.ceil((deadline - Date.now()) / 1000));
    api.watch(name, onEvent, remaining).then((watch) => {
      stop = watch.stop;
      if (finished) watch.stop();
      watch.ended.then(() => settle(null), fail);
    }, fail);
    try {
      return await decided;
    } finally {
      finished = true;
      clearTimeout(timer);
      stop?.();
    }
  }
}
