import { createHash } from 'crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { MAX_NAME_LENGTH, NO_ROUTING } from '@platform/contracts';
import { DeployerSettingsValues } from '../../settings';
import { DeploymentDriver, DeploymentFailure, DriverDeployRequest } from '../driver';
import { KnativeSecrets, Written } from './knative-secrets';
import { KnativeServicesApi, KubeApiError, KubeSecretsApi, loadKubeConfig, WatchEvent } from './kube-api';
import {
  FUNCTION_ID_LABEL,
  knativeProblem,
  knativeService,
  KnativeService,
  KnativeServiceOptions,
  MANAGED_BY,
  Readiness,
  readiness,
  revisionName,
  versionsProblem,
} from './knative-service';

const APPLY_ATTEMPTS = 5;
const REWATCH_PAUSE_MS = 250;
const NO_IMAGE = 'no OCI image: configure HKS_OCI_REGISTRY on the builder';
/** On the revision template: a digest of everything hks writes there, to tell whether a version's template changed. */
const TEMPLATE_DIGEST = 'hks.dev/template-digest';

/** Knative driver: one serving.knative.dev/v1 Service per function, watched until Ready. */
@Injectable()
export class KnativeDriver implements DeploymentDriver {
  readonly name = 'knative' as const;
  /**
   * The values are resolved (from the registry, for each version) and written to one Kubernetes Secret per version,
   * which the Service references: the kubelet reads them from there, never from the Service.
   */
  readonly resolvesSecrets = true;
  private readonly logger = new Logger(KnativeDriver.name);
  private api?: KnativeServicesApi;
  private secretsStore?: KnativeSecrets;

  constructor(@Inject(SETTINGS) private readonly settings: DeployerSettingsValues) {}

  /** Loaded on first use, so an installation that only deploys locally needs no kubeconfig. */
  private services(): KnativeServicesApi {
    if (!this.api) {
      try {
        const kc = loadKubeConfig(this.settings.KUBECONFIG);
        this.api = new KnativeServicesApi(kc, this.settings.KNATIVE_NAMESPACE);
        this.secretsStore = new KnativeSecrets(new KubeSecretsApi(kc, this.settings.KNATIVE_NAMESPACE), this.settings);
      } catch (err) {
        throw new DeploymentFailure(`knative driver cannot reach Kubernetes: ${(err as Error).message}`);
      }
    }
    return this.api;
  }

  private secrets(): KnativeSecrets {
    this.services();
    return this.secretsStore!;
  }

  async deploy({ deploymentId, spec, env, versions, routing }: DriverDeployRequest): Promise<{ url: string | null }> {
    if (!spec.image) throw new DeploymentFailure(NO_IMAGE);
    const api = this.services();
    const timeoutMs = this.settings.KNATIVE_READY_TIMEOUT_MS;
    const deadline = Date.now() + timeoutMs;
    // Versions map to named revisions; the routing to the traffic block. The other versions' revisions must exist
    // already (each was the deployed version once): Knative refuses a revisionName it does not know.
    const others = (versions ?? []).map((v) => v.spec.version);
    const problem = knativeProblem(spec) ?? versionsProblem(spec, routing, others);
    if (problem) throw new DeploymentFailure(problem);
    const name = spec.label;
    const written: Written[] = [];
    const secrets = this.secrets();
    try {
      const current = await api.get(name).catch((err: unknown) => {
        throw new DeploymentFailure(`could not write Knative Service ${name}: ${(err as Error).message}`);
      });
      if (current && current.metadata.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY['app.kubernetes.io/managed-by'])
        throw new DeploymentFailure(`a Knative Service named ${name} already exists in namespace ${api.namespace} and is not managed by hks`);
      const owner = current?.metadata.uid ? { name, uid: current.metadata.uid } : undefined;
      // The Secrets first: a revision whose Secret is missing cannot start its pods. The other versions' Secrets
      // too (their revisions reference them, and Knative starts their pods again when they scale from zero).
      const pullSecret = await secrets.syncPullSecret(spec.image);
      const secretsDigest = await secrets.syncVersionSecret(spec, env, owner, written);
      for (const v of versions ?? []) await secrets.syncVersionSecret(v.spec, v.env, owner, written);
      const options: KnativeServiceOptions = { secretsDigest, pullSecret, revisionNames: existingRevisionNames(current) };
      let desired = withTemplateDigest(knativeService(spec, api.namespace, deploymentId, routing ?? NO_ROUTING, others, options));
      // Knative refuses a template that changed under the same revision name (a rotated secret, a new pull secret,
      // the same version deployed again with other settings): such a template gets a name of its own.
      const renamed = renameChangedTemplate(current, desired, spec.version);
      if (renamed)
        desired = withTemplateDigest(
          knativeService(spec, api.namespace, deploymentId, routing ?? NO_ROUTING, others, {
            ...options,
            revisionNames: { ...options.revisionNames, [spec.version]: renamed },
          }),
        );
      let stored: KnativeService;
      try {
        stored = await this.apply(api, desired);
      } catch (err) {
        throw err instanceof DeploymentFailure ? err : new DeploymentFailure(`could not write Knative Service ${name}: ${(err as Error).message}`);
      }
      // A Service created now: its Secrets are its dependents, so Kubernetes removes them with it.
      if (!owner && stored.metadata.uid) await secrets.adoptSecrets({ name, uid: stored.metadata.uid }, written);
      const outcome = await this.waitReady(api, name, deadline, timeoutMs);
      await secrets.pruneSecrets(spec, [spec.version, ...others]);
      return { url: outcome.url };
    } catch (err) {
      await secrets.undoSecrets(written);
      throw err;
    }
  }

  async remove({ functionId, label }: { functionId: string; label: string }): Promise<void> {
    const api = this.services();
    const current = await api.get(label);
    const owner = current?.metadata.labels?.[FUNCTION_ID_LABEL];
    if (current && owner !== functionId) {
      // Same label, another function (deleted and re-created): its Service is not ours to remove.
      this.logger.warn(`Knative Service ${label} belongs to function ${owner ?? '(none)'}, not ${functionId}; left in place`);
    } else if (current) {
      await api.delete(label);
    }
    // The function's own Secrets (by its id), also when its Service is gone already; Kubernetes' garbage collector
    // would remove those the Service owns, but not before the Service itself is gone.
    await this.secrets().removeAll(functionId);
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

/** The revision each version runs as now: the current template's, and each `v{n}` tag's in the traffic block. */
function existingRevisionNames(current: KnativeService | null): Record<number, string> {
  const names: Record<number, string> = {};
  if (!current) return names;
  for (const t of current.spec.traffic ?? []) {
    const m = /^v(\d+)$/.exec(t.tag ?? '');
    if (m && t.revisionName) names[Number(m[1])] = t.revisionName;
  }
  const version = Number(current.metadata.annotations?.['hks.dev/version']);
  const templateName = current.spec.template?.metadata?.name;
  if (Number.isInteger(version) && templateName) names[version] = templateName;
  return names;
}

/** The Service with a digest of its template (name aside) among the template's annotations. */
function withTemplateDigest(svc: KnativeService): KnativeService {
  const { name: _name, ...metadata } = svc.spec.template.metadata;
  const digest = createHash('sha256')
    .update(JSON.stringify({ metadata, spec: svc.spec.template.spec }))
    .digest('hex')
    .slice(0, 16);
  svc.spec.template.metadata.annotations[TEMPLATE_DIGEST] = digest;
  return svc;
}

/**
 * A new name for the version's revision when the current Service already runs a template of that name that differs
 * ({service}-v{n}-{digest}), or undefined. Compared by the digest hks wrote, since Knative adds defaults to the template.
 */
function renameChangedTemplate(current: KnativeService | null, desired: KnativeService, version: number): string | undefined {
  const name = desired.spec.template.metadata.name;
  if (!current || !name || current.spec.template?.metadata?.name !== name) return undefined;
  const digest = desired.spec.template.metadata.annotations[TEMPLATE_DIGEST];
  if (current.spec.template.metadata.annotations?.[TEMPLATE_DIGEST] === digest) return undefined;
  const renamed = `${revisionName(desired.metadata.name, version)}-${digest.slice(0, 5)}`;
  if (renamed.length > MAX_NAME_LENGTH)
    throw new DeploymentFailure(
      `version ${version} of ${desired.metadata.name} changed (its secrets or settings) but its label is too long for a new revision name (${renamed} passes ${MAX_NAME_LENGTH} characters); deploy a new version instead`,
    );
  return renamed;
}
