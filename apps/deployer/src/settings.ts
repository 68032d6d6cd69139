import { SettingsOf, SettingsSchema, CommonSettings } from '@platform/config';
import { OciRegistrySettings } from '@platform/runtimes';

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
  HKS_OCI_REGISTRY: {
    kind: 'string',
    description:
      "The platform's OCI registry (host:port), where the builder pushes function images: with HKS_OCI_USERNAME/HKS_OCI_PASSWORD the knative driver " +
      'keeps a pull secret for it (hks-registry-pull) in KNATIVE_NAMESPACE and names it in the imagePullSecrets of the Services whose image is there',
  },
  HKS_OCI_USERNAME: OciRegistrySettings.HKS_OCI_USERNAME,
  HKS_OCI_PASSWORD: OciRegistrySettings.HKS_OCI_PASSWORD,
  KNATIVE_READY_TIMEOUT_MS: {
    kind: 'int',
    default: 180_000,
    description: 'How long the knative driver waits for a Service to become Ready',
  },
  TRIGGER_RETRY_DELAY_MS: {
    kind: 'int',
    default: 1_000,
    description: 'Pause before messages an event source could not hand over (database down, function queue full) come back',
  },
  DEPLOYER_INSTANCE_ID: {
    kind: 'string',
    description:
      "This replica's name for the event sources (its MQTT session): stable across restarts, unique per replica; the host name and DEPLOYER_PORT when unset",
  },
  NATS_URL: { kind: 'string', default: 'nats://127.0.0.1:4222', description: 'NATS server(s) for nats triggers that name no url' },
  MQTT_URL: { kind: 'string', default: 'mqtt://127.0.0.1:1883', description: 'MQTT broker for mqtt triggers that name no url' },
  SCHEDULE_CONCURRENCY: { kind: 'int', default: 4, description: 'Scheduled invocations the deployer runs at once' },
  DEPLOYER_ASYNC_CONCURRENCY: {
    kind: 'int',
    default: 32,
    min: 1,
    max: 10_000,
    description: 'Asynchronous invocation attempts one deployer runs at once (the prefetch of its work queue)',
  },
  DEPLOYER_ASYNC_MAX_QUEUED: {
    kind: 'int',
    default: 100_000,
    min: 1,
    description: 'Asynchronous invocations queued or running, all functions together, before the next one is refused with 429',
  },
  DEPLOYER_ASYNC_PUMP_INTERVAL_MS: {
    kind: 'int',
    default: 250,
    min: 10,
    description: 'How often the deployer dispatches due retries, takes back expired leases and delivers callbacks',
  },
  DEPLOYER_DEPLOY_LEASE_MS: {
    kind: 'int',
    default: 10_000,
    min: 1_000,
    description:
      'How long a deployment in progress is held by its deployer without a renewal: past it (the deployer died or lost the database), ' +
      'another deployer marks it FAILED, puts back the version it replaced, and takes new deploys of the function',
  },
  DEPLOYER_DEPLOY_LEASE_RENEW_MS: {
    kind: 'int',
    default: 3_000,
    min: 100,
    description:
      'How often a deployer renews the lease of a deployment in progress, and looks for deployments whose lease ran out (at most half of DEPLOYER_DEPLOY_LEASE_MS)',
  },
  DEPLOYER_ASYNC_LEASE_MS: {
    kind: 'int',
    default: 15_000,
    min: 200,
    description: 'How long a running attempt is held by its deployer without a renewal before another one takes it back',
  },
  DEPLOYER_ASYNC_LEASE_RENEW_MS: {
    kind: 'int',
    default: 5_000,
    min: 50,
    description: 'How often a deployer renews the lease of an attempt it runs (well below DEPLOYER_ASYNC_LEASE_MS)',
  },
  DEPLOYER_ASYNC_SHUTDOWN_GRACE_MS: {
    kind: 'int',
    default: 10_000,
    min: 0,
    description: 'At shutdown, how long running attempts may finish; the rest are taken back by another deployer when their lease ends',
  },
  DEPLOYER_ASYNC_UNAVAILABLE_RETRY_MS: {
    kind: 'int',
    default: 1_000,
    min: 10,
    description:
      'Delay before retrying an attempt the platform could not run (not deployed, full, restarting); it doubles with each such answer in a row, up to 30 s. These do not use up retry.attempts; retry.maxAgeMs bounds them',
  },
  DEPLOYER_ASYNC_RETENTION_MS: {
    kind: 'int',
    default: 7 * 24 * 3600_000,
    min: 1_000,
    description: 'How long a finished asynchronous invocation (and its idempotency key) is kept before it is removed',
  },
  DEPLOYER_CALLBACK_ALLOWED_HOSTS: {
    kind: 'string',
    default: '',
    description:
      'Hosts an X-Callback-Url may name, comma-separated ("hooks.example.com", "*.example.com" for its subdomains); empty = any. ' +
      'Set it where callers must not make the deployer POST to addresses of its own network',
  },
  DEPLOYER_CALLBACK_TIMEOUT_MS: { kind: 'int', default: 10_000, min: 100, description: 'How long one callback POST may take' },
  DEPLOYER_CALLBACK_RETRY_MS: {
    kind: 'int',
    default: 1_000,
    min: 10,
    description: 'Delay before the first callback retry; each next one doubles (5 retries)',
  },
  DEPLOYER_EVENT_STORE_TIMEOUT_MS: {
    kind: 'int',
    default: 3_000,
    min: 100,
    description: "How long the deployer waits for the event store (an invocation's logs, a synchronous invocation to show or replay)",
  },
} as const satisfies SettingsSchema;

export type DeployerSettingsValues = SettingsOf<typeof DeployerSettings & typeof CommonSettings>;
