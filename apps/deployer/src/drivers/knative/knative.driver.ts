import { createHash } from 'crypto';
import { isDeepStrictEqual } from 'util';
import type { V1Secret } from '@kubernetes/client-node';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { type FunctionRuntimeSpec, MAX_NAME_LENGTH, NO_ROUTING } from '@platform/contracts';
import { DeployerSettingsValues } from '../../settings';
import { DeploymentDriver, DeploymentFailure, DriverDeployRequest } from '../driver';
import { functionSecret, functionSecretName, PULL_SECRET_NAME, registryPullSecret, valuesDigest } from './function-secrets';
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

/** A Secret this deploy wrote, and what it was before (null: it did not exist), so a failure can put it back. */
type Written = { name: string; before: V1Secret | null };

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
  private secretsApi?: KubeSecretsApi;

  constructor(@Inject(SETTINGS) private readonly settings: DeployerSettingsValues) {}

  /** Loaded on first use, so an installation that only deploys locally needs no kubeconfig. */
  private services(): KnativeServicesApi {
    if (!this.api) {
      try {
        const kc = loadKubeConfig(this.settings.KUBECONFIG);
        this.api = new KnativeServicesApi(kc, this.settings.KNATIVE_NAMESPACE);
        this.secretsApi = new KubeSecretsApi(kc, this.settings.KNATIVE_NAMESPACE);
      } catch (err) {
        throw new DeploymentFailure(`knative driver cannot reach Kubernetes: ${(err as Error).message}`);
      }
    }
    return this.api;
  }

  private secrets(): KubeSecretsApi {
    this.services();
    return this.secretsApi!;
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
    try {
      const current = await api.get(name).catch((err: unknown) => {
        throw new DeploymentFailure(`could not write Knative Service ${name}: ${(err as Error).message}`);
      });
      if (current && current.metadata.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY['app.kubernetes.io/managed-by'])
        throw new DeploymentFailure(`a Knative Service named ${name} already exists in namespace ${api.namespace} and is not managed by hks`);
      const owner = current?.metadata.uid ? { name, uid: current.metadata.uid } : undefined;
      // The Secrets first: a revision whose Secret is missing cannot start its pods. The other versions' Secrets
      // too (their revisions reference them, and Knative starts their pods again when they scale from zero).
      const pullSecret = await this.syncPullSecret(spec.image);
      const secretsDigest = await this.syncVersionSecret(spec, env, owner, written);
      for (const v of versions ?? []) await this.syncVersionSecret(v.spec, v.env, owner, written);
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
      if (!owner && stored.metadata.uid) await this.adoptSecrets({ name, uid: stored.metadata.uid }, written);
      const outcome = await this.waitReady(api, name, deadline, timeoutMs);
      await this.pruneSecrets(spec, [spec.version, ...others]);
      return { url: outcome.url };
    } catch (err) {
      await this.undoSecrets(written);
      throw err;
    }
  }

  /**
   * Creates or updates the version's Secret with exactly the values its config.secrets name (by variable), and
   * answers their digest (keyed by the Secret's uid); nothing when the version has no secrets.
   */
  private async syncVersionSecret(
    spec: FunctionRuntimeSpec,
    env: Record<string, string>,
    owner: { name: string; uid: string } | undefined,
    written: Written[],
  ): Promise<string | undefined> {
    const refs = spec.config.secrets;
    if (!refs.length) return undefined;
    const values: Record<string, string> = {};
    for (const ref of refs) {
      const value = env[ref.env];
      if (value === undefined) throw new DeploymentFailure(`version ${spec.version} of ${spec.label} has no value for ${ref.env} (secret "${ref.secret}")`);
      values[ref.env] = value;
    }
    const desired = functionSecret(spec, this.settings.KNATIVE_NAMESPACE, values);
    if (owner) desired.metadata!.ownerReferences = [ownerReference(owner)];
    const stored = await this.putSecret(desired, written, (current) => {
      const theirs = current.metadata?.labels?.[FUNCTION_ID_LABEL];
      if (theirs !== spec.functionId)
        throw new DeploymentFailure(
          `a Secret named ${desired.metadata!.name} already exists in namespace ${this.settings.KNATIVE_NAMESPACE} and does not belong to ${spec.label}`,
        );
    });
    return valuesDigest(values, stored.metadata?.uid ?? desired.metadata!.name!);
  }

  /** The registry pull secret, when the image is in HKS_OCI_REGISTRY and there are credentials for it. */
  private async syncPullSecret(image: string): Promise<string | undefined> {
    const { HKS_OCI_REGISTRY: registry, HKS_OCI_USERNAME: username, HKS_OCI_PASSWORD: password } = this.settings;
    if (!registry || !username || !password || !image.startsWith(`${registry}/`)) return undefined;
    // Shared by every function: not undone when one deploy fails (it holds only the current login).
    await this.putSecret(registryPullSecret(this.settings.KNATIVE_NAMESPACE, registry, username, password), [], (current) => {
      if (current.metadata?.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY['app.kubernetes.io/managed-by'])
        throw new DeploymentFailure(
          `a Secret named ${PULL_SECRET_NAME} already exists in namespace ${this.settings.KNATIVE_NAMESPACE} and is not managed by hks`,
        );
    });
    return PULL_SECRET_NAME;
  }

  /** Create, or replace when its data, type, labels or owners differ; retries on 409 like apply. */
  private async putSecret(desired: V1Secret, written: Written[], check: (current: V1Secret) => void): Promise<V1Secret> {
    const secrets = this.secrets();
    const name = desired.metadata!.name!;
    let lastError: unknown;
    for (let attempt = 1; attempt <= APPLY_ATTEMPTS; attempt++) {
      try {
        const current = await secrets.get(name);
        if (!current) {
          const created = await secrets.create(desired);
          written.push({ name, before: null });
          return created;
        }
        check(current);
        const same =
          isDeepStrictEqual(current.data ?? {}, desired.data) &&
          current.type === desired.type &&
          isDeepStrictEqual(current.metadata?.labels ?? {}, desired.metadata?.labels ?? {}) &&
          (!desired.metadata?.ownerReferences || isDeepStrictEqual(current.metadata?.ownerReferences, desired.metadata.ownerReferences));
        if (same) return current;
        const replaced = await secrets.replace({
          ...desired,
          metadata: {
            ...desired.metadata,
            ownerReferences: desired.metadata?.ownerReferences ?? current.metadata?.ownerReferences,
            resourceVersion: current.metadata?.resourceVersion,
          },
        });
        if (!written.some((w) => w.name === name)) written.push({ name, before: current });
        return replaced;
      } catch (err) {
        if (err instanceof KubeApiError && err.code === 409) {
          lastError = err;
          continue;
        }
        if (err instanceof DeploymentFailure) throw err;
        throw new DeploymentFailure(`could not write Secret ${name}: ${(err as Error).message}`);
      }
    }
    throw new DeploymentFailure(`could not write Secret ${name}: ${(lastError as Error).message}`);
  }

  /** Makes the Service the owner of the Secrets this deploy created or changed. */
  private async adoptSecrets(owner: { name: string; uid: string }, written: Written[]): Promise<void> {
    for (const { name } of written) {
      const current = await this.secrets().get(name);
      if (!current || current.metadata?.labels?.[FUNCTION_ID_LABEL] === undefined) continue;
      await this.putSecret({ ...current, metadata: { ...current.metadata, ownerReferences: [ownerReference(owner)] } }, [], () => undefined);
    }
  }

  /** A failed deploy leaves the Secrets as they were: what it created goes, what it changed gets its values back. */
  private async undoSecrets(written: Written[]): Promise<void> {
    for (const { name, before } of [...written].reverse()) {
      try {
        if (!before) await this.secrets().delete(name);
        else {
          const current = await this.secrets().get(name);
          if (current) await this.secrets().replace({ ...current, data: before.data, metadata: { ...current.metadata, labels: before.metadata?.labels } });
        }
      } catch (err) {
        this.logger.warn(`could not undo Secret ${name} after a failed deploy: ${(err as Error).message}`);
      }
    }
  }

  /** The function's Secrets of versions that no longer run (after a rollback, the end of a split). */
  private async pruneSecrets(spec: FunctionRuntimeSpec, running: number[]): Promise<void> {
    const keep = new Set(running.map((v) => functionSecretName(spec.label, v)));
    const mine = await this.secrets()
      .list(functionSecretSelector(spec.functionId))
      .catch((err: unknown) => {
        this.logger.warn(`could not list the Secrets of ${spec.label} to remove those of versions that no longer run: ${(err as Error).message}`);
        return [] as V1Secret[];
      });
    for (const s of mine) {
      const name = s.metadata?.name;
      if (name && !keep.has(name))
        await this.secrets()
          .delete(name)
          .catch((err: unknown) => this.logger.warn(`could not remove Secret ${name}: ${(err as Error).message}`));
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
    for (const s of await this.secrets().list(functionSecretSelector(functionId))) await this.secrets().delete(s.metadata!.name!);
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

function ownerReference(owner: { name: string; uid: string }) {
  return { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: owner.name, uid: owner.uid };
}

function functionSecretSelector(functionId: string): string {
  return `app.kubernetes.io/managed-by=${MANAGED_BY['app.kubernetes.io/managed-by']},${FUNCTION_ID_LABEL}=${functionId}`;
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
