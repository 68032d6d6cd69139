import type { SettingsSchema } from '@platform/config';
import type { RegistryClientOptions } from './registry-client';

const GiB = 1024 * 1024 * 1024;

/**
 * How the builder and the invoker reach OCI registries: the platform's own one (`HKS_OCI_REGISTRY`) with its
 * credentials and transport, every other one anonymously (HTTPS unless loopback); and how much a pull may bring.
 */
export const OciRegistrySettings = {
  HKS_OCI_REGISTRY: {
    kind: 'string',
    description:
      "The platform's OCI registry (host:port): the builder pushes function images there (none is built when unset); " +
      'HKS_OCI_INSECURE and the credentials apply to it only, builder and invoker alike',
  },
  HKS_OCI_INSECURE: { kind: 'bool', description: 'Talk plain HTTP to HKS_OCI_REGISTRY (default: true for loopback addresses only)' },
  HKS_OCI_USERNAME: { kind: 'string', description: 'User for HKS_OCI_REGISTRY (basic auth, or the login of its bearer-token service)' },
  HKS_OCI_PASSWORD: { kind: 'string', description: 'Password or access token for HKS_OCI_REGISTRY' },
  HKS_OCI_MAX_BLOB_BYTES: {
    kind: 'int',
    default: 2 * GiB,
    min: 1,
    description: 'Largest blob (a compressed layer, a config) pulled from a registry, in bytes; a larger one fails the pull naming this setting',
  },
  HKS_OCI_MAX_UNPACKED_BYTES: {
    kind: 'int',
    default: 8 * GiB,
    min: 1,
    description: "Largest unpacked image (its files' sizes, all layers), in bytes; a larger one fails the deployment naming this setting",
  },
} as const satisfies SettingsSchema;

export interface OciRegistrySettingsValues {
  HKS_OCI_REGISTRY?: string;
  HKS_OCI_INSECURE?: boolean;
  HKS_OCI_USERNAME?: string;
  HKS_OCI_PASSWORD?: string;
  HKS_OCI_MAX_BLOB_BYTES?: number;
}

/** The client options for one registry: the platform's own gets its transport and credentials, any other none. */
export function registryOptionsFor(s: OciRegistrySettingsValues): (registry: string) => RegistryClientOptions {
  return (registry) => {
    const own = Boolean(s.HKS_OCI_REGISTRY) && registry === s.HKS_OCI_REGISTRY;
    return {
      ...(own ? { insecure: s.HKS_OCI_INSECURE, username: s.HKS_OCI_USERNAME || undefined, password: s.HKS_OCI_PASSWORD || undefined } : {}),
      ...(s.HKS_OCI_MAX_BLOB_BYTES ? { maxBlobBytes: s.HKS_OCI_MAX_BLOB_BYTES } : {}),
    };
  };
}
