import { SettingsOf, SettingsSchema, CommonSettings } from '@platform/config';

export const DeployerSettings = {
  DEPLOYER_PORT: { kind: 'int', default: 8084, description: 'HTTP port of the deployer (health endpoints)' },
  INVOKER_URL: { kind: 'url', default: 'http://127.0.0.1:8081', description: 'Base URL of the invoker' },
  DEPLOYER_DEFAULT_DRIVER: {
    kind: 'enum',
    default: 'local',
    values: ['local', 'knative'],
    description: 'Driver used when a function names no config.target',
  },
  INVOKER_DEPLOY_TIMEOUT_MS: {
    kind: 'int',
    default: 120_000,
    description: 'How long the local driver waits for the invoker to unpack a bundle and start its minimum instances',
  },
  KNATIVE_NAMESPACE: { kind: 'string', default: 'functions', description: 'Kubernetes namespace of the Knative Services' },
  KUBECONFIG: {
    kind: 'string',
    description: 'Path of a kubeconfig file for the knative driver; unset = in-cluster service account (or ~/.kube/config)',
  },
  KNATIVE_READY_TIMEOUT_MS: {
    kind: 'int',
    default: 180_000,
    description: 'How long the knative driver waits for a Service to become Ready',
  },
  TRIGGER_RETRY_DELAY_MS: {
    kind: 'int',
    default: 1_000,
    description: 'Pause before a queue-trigger batch whose invocation failed is put back on its queue',
  },
  SCHEDULE_CONCURRENCY: { kind: 'int', default: 4, description: 'Scheduled invocations the deployer runs at once' },
} as const satisfies SettingsSchema;

export type DeployerSettingsValues = SettingsOf<typeof DeployerSettings & typeof CommonSettings>;
