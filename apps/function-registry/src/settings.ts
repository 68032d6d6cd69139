import { CommonSettingsValues, SettingsOf, SettingsSchema } from '@platform/config';

export const RegistrySettings = {
  REGISTRY_PORT: { kind: 'int', default: 8082, description: 'HTTP port of the function registry (health endpoints)' },
  REGISTRY_SECRETS_KEY: {
    kind: 'string',
    description:
      'Key that encrypts stored secret values (any long random string). When unset, a key is generated in ' +
      'HKS_DATA_DIR/registry/secrets.key; set it explicitly when replicas do not share that directory',
  },
  BUILD_QUEUE_TIMEOUT_MS: {
    kind: 'int',
    default: 5000,
    description: 'How long queuing a build job may wait for Redis before the build request answers 503',
  },
} as const satisfies SettingsSchema;

export type RegistrySettingsValues = SettingsOf<typeof RegistrySettings> & CommonSettingsValues;
