import { isDeepStrictEqual } from 'util';
import type { V1Secret } from '@kubernetes/client-node';
import { Logger } from '@nestjs/common';
import type { FunctionRuntimeSpec } from '@platform/contracts';
import { DeployerSettingsValues } from '../../settings';
import { DeploymentFailure } from '../driver';
import { functionSecret, functionSecretName, PULL_SECRET_NAME, registryPullSecret, valuesDigest } from './function-secrets';
import { KubeApiError, KubeSecretsApi } from './kube-api';
import { FUNCTION_ID_LABEL, MANAGED_BY } from './knative-service';

const APPLY_ATTEMPTS = 5;

/** A Secret this deploy wrote, and what it was before (null: it did not exist), so a failure can put it back. */
export type Written = { name: string; before: V1Secret | null };

/**
 * The Kubernetes Secrets the knative driver keeps beside the Services: one per function version (its secret values)
 * and the registry pull secret. Every write is recorded in `written`, so a failed deploy can undo it.
 */
export class KnativeSecrets {
  private readonly logger = new Logger(KnativeSecrets.name);

  constructor(
    private readonly api: KubeSecretsApi,
    private readonly settings: Pick<DeployerSettingsValues, 'HKS_OCI_REGISTRY' | 'HKS_OCI_USERNAME' | 'HKS_OCI_PASSWORD'>,
  ) {}

  /**
   * Creates or updates the version's Secret with exactly the values its config.secrets name (by variable), and
   * answers their digest (keyed by the Secret's uid); nothing when the version has no secrets.
   */
  async syncVersionSecret(
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
    const desired = functionSecret(spec, this.api.namespace, values);
    if (owner) desired.metadata!.ownerReferences = [ownerReference(owner)];
    const stored = await this.putSecret(desired, written, (current) => {
      const theirs = current.metadata?.labels?.[FUNCTION_ID_LABEL];
      if (theirs !== spec.functionId)
        throw new DeploymentFailure(
          `a Secret named ${desired.metadata!.name} already exists in namespace ${this.api.namespace} and does not belong to ${spec.label}`,
        );
    });
    return valuesDigest(values, stored.metadata?.uid ?? desired.metadata!.name!);
  }

  /** The registry pull secret, when the image is in HKS_OCI_REGISTRY and there are credentials for it. */
  async syncPullSecret(image: string): Promise<string | undefined> {
    const { HKS_OCI_REGISTRY: registry, HKS_OCI_USERNAME: username, HKS_OCI_PASSWORD: password } = this.settings;
    if (!registry || !username || !password || !image.startsWith(`${registry}/`)) return undefined;
    // Shared by every function: not undone when one deploy fails (it holds only the current login).
    await this.putSecret(registryPullSecret(this.api.namespace, registry, username, password), [], (current) => {
      if (current.metadata?.labels?.['app.kubernetes.io/managed-by'] !== MANAGED_BY['app.kubernetes.io/managed-by'])
        throw new DeploymentFailure(`a Secret named ${PULL_SECRET_NAME} already exists in namespace ${this.api.namespace} and is not managed by hks`);
    });
    return PULL_SECRET_NAME;
  }

  /** Create, or replace when its data, type, labels or owners differ; retries on 409 like apply. */
  private async putSecret(desired: V1Secret, written: Written[], check: (current: V1Secret) => void): Promise<V1Secret> {
    const secrets = this.api;
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
  async adoptSecrets(owner: { name: string; uid: string }, written: Written[]): Promise<void> {
    for (const { name } of written) {
      const current = await this.api.get(name);
      if (!current || current.metadata?.labels?.[FUNCTION_ID_LABEL] === undefined) continue;
      await this.putSecret({ ...current, metadata: { ...current.metadata, ownerReferences: [ownerReference(owner)] } }, [], () => undefined);
    }
  }

  /** A failed deploy leaves the Secrets as they were: what it created goes, what it changed gets its values back. */
  async undoSecrets(written: Written[]): Promise<void> {
    for (const { name, before } of [...written].reverse()) {
      try {
        if (!before) await this.api.delete(name);
        else {
          const current = await this.api.get(name);
          if (current) await this.api.replace({ ...current, data: before.data, metadata: { ...current.metadata, labels: before.metadata?.labels } });
        }
      } catch (err) {
        this.logger.warn(`could not undo Secret ${name} after a failed deploy: ${(err as Error).message}`);
      }
    }
  }

  /** The function's Secrets of versions that no longer run (after a rollback, the end of a split). */
  async pruneSecrets(spec: FunctionRuntimeSpec, running: number[]): Promise<void> {
    const keep = new Set(running.map((v) => functionSecretName(spec.label, v)));
    const mine = await this.api.list(functionSecretSelector(spec.functionId)).catch((err: unknown) => {
      this.logger.warn(`could not list the Secrets of ${spec.label} to remove those of versions that no longer run: ${(err as Error).message}`);
      return [] as V1Secret[];
    });
    for (const s of mine) {
      const name = s.metadata?.name;
      if (name && !keep.has(name))
        await this.api.delete(name).catch((err: unknown) => this.logger.warn(`could not remove Secret ${name}: ${(err as Error).message}`));
    }
  }

  /** Removes every Secret of the function (undeploy). */
  async removeAll(functionId: string): Promise<void> {
    for (const s of await this.api.list(functionSecretSelector(functionId))) await this.api.delete(s.metadata!.name!);
  }
}

export function ownerReference(owner: { name: string; uid: string }) {
  return { apiVersion: 'serving.knative.dev/v1', kind: 'Service', name: owner.name, uid: owner.uid };
}

export function functionSecretSelector(functionId: string): string {
  return `app.kubernetes.io/managed-by=${MANAGED_BY['app.kubernetes.io/managed-by']},${FUNCTION_ID_LABEL}=${functionId}`;
}
