import type { V1Secret } from '@kubernetes/client-node';
import { createHmac } from 'crypto';
import type { FunctionRuntimeSpec } from '@platform/contracts';
import { FUNCTION_ID_LABEL, MANAGED_BY } from './knative-service';

/** The label that says which version's values a function Secret holds. */
export const VERSION_LABEL = 'hks.dev/version';
/** The registry pull secret the deployer keeps in the functions namespace when HKS_OCI_USERNAME/PASSWORD are set. */
export const PULL_SECRET_NAME = 'hks-registry-pull';

/**
 * The Kubernetes Secret that holds one version's secret values: `hks-fn-{label}-v{n}` (a label is at most 63
 * characters, a Secret name 253). One per version, so an older version (rollback, alias, split) keeps the values its
 * own config names while the current one changes.
 */
export function functionSecretName(label: string, version: number): string {
  return `hks-fn-${label}-v${version}`;
}

/**
 * The Secret for a version: keyed by the variable each config.secrets entry fills (env names are valid Secret keys,
 * and two entries may take the same key of two secrets), so it holds exactly what the version's config names.
 */
export function functionSecret(spec: FunctionRuntimeSpec, namespace: string, values: Record<string, string>): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: functionSecretName(spec.label, spec.version),
      namespace,
      labels: { ...MANAGED_BY, [FUNCTION_ID_LABEL]: spec.functionId, 'app.kubernetes.io/name': spec.label, [VERSION_LABEL]: String(spec.version) },
    },
    type: 'Opaque',
    data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v, 'utf8').toString('base64')])),
  };
}

/**
 * A digest of the values that changes when one does (so the revision template changes and Knative starts new pods,
 * which read the new values): an HMAC keyed by the Secret's uid, so the annotation on the Service, which more people
 * may read than the Secret, cannot be used to guess a short value offline.
 */
export function valuesDigest(values: Record<string, string>, key: string): string {
  const canonical = JSON.stringify(
    Object.keys(values)
      .sort()
      .map((k) => [k, values[k]]),
  );
  return createHmac('sha256', key).update(canonical).digest('hex').slice(0, 32);
}

/** `kubernetes.io/dockerconfigjson` for the registry the function images live in (the kubelet pulls with it). */
export function registryPullSecret(namespace: string, registry: string, username: string, password: string): V1Secret {
  const auth = Buffer.from(`${username}:${password}`, 'utf8').toString('base64');
  const config = JSON.stringify({ auths: { [registry]: { username, password, auth } } });
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: PULL_SECRET_NAME, namespace, labels: { ...MANAGED_BY } },
    type: 'kubernetes.io/dockerconfigjson',
    data: { '.dockerconfigjson': Buffer.from(config, 'utf8').toString('base64') },
  };
}
