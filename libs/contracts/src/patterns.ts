/**
 * RPC message patterns (request/response over RabbitMQ). Each service listens on its own queue,
 * named by `rpcQueue(service)`; the pattern says which handler answers.
 */
export const FunctionPatterns = {
  Create: 'functions.create',
  List: 'functions.list',
  Get: 'functions.get',
  Update: 'functions.update',
  Delete: 'functions.delete',
  /**
   * Resolves an id or a label to the function without its code: a FunctionView whose handler and files
   * are null (404 when neither matches). Get answers the whole function.
   */
  Resolve: 'functions.resolve',
  /** What it takes to run the function's latest successful build (409 when it has none). */
  GetRuntimeSpec: 'functions.runtime-spec',
  /** Marks the latest version BUILDING and queues a BullMQ build job (which names the version, without its code). */
  RequestBuild: 'functions.build',
  /** The code and configuration of one version, for the builder running its job: BuildSourceQuery -> BuildSource. */
  GetBuildSource: 'functions.build-source',
  /** Moves a function through DEPLOYING / READY / FAILED; used by the deployer. */
  SetDeploymentStatus: 'functions.set-deployment-status',
  /** Secrets: stored by the registry, referenced by name from a function's env. */
  PutSecret: 'secrets.put',
  ListSecrets: 'secrets.list',
  DeleteSecret: 'secrets.delete',
  ResolveSecrets: 'secrets.resolve',
  /** { name } -> Record<key, value>: one stored secret's keys, for an event source's credentials (deployer only). */
  ResolveSecret: 'secrets.resolve-one',
  /** {} -> RuntimeView[]: the runtimes (descriptors) and the versions of each installed where the registry runs. */
  ListRuntimes: 'runtimes.list',
} as const;

/** API keys: stored hashed by the registry; the gateway verifies a key by its sha256. */
export const ApiKeyPatterns = {
  Create: 'keys.create',
  List: 'keys.list',
  Revoke: 'keys.revoke',
  Verify: 'keys.verify',
} as const;

export const BuildPatterns = {
  Get: 'builds.get',
  ListForFunction: 'builds.list-for-function',
} as const;

export const DeploymentPatterns = {
  Deploy: 'deployments.deploy',
  Get: 'deployments.get',
  GetForFunction: 'deployments.get-for-function',
  ListActive: 'deployments.list-active',
  Undeploy: 'deployments.undeploy',
} as const;

/** The deployer's event sources. */
export const SourcePatterns = {
  /** S3NotificationCommand -> S3NotificationResult: a bucket notification POSTed to the gateway's webhook. */
  S3Notification: 'sources.s3-notification',
} as const;

/** Payload of SourcePatterns.S3Notification (the gateway resolved the function and checked the key). */
export interface S3NotificationCommand {
  functionId: string;
  /** The notification as it came: {"Records": [...]} (AWS, MinIO) or an SNS envelope. */
  body: unknown;
}

export interface S3NotificationResult {
  functionId: string;
  /** Records the notification held. */
  records: number;
  /** Events that matched a trigger and were accepted as invocations (duplicates included). */
  accepted: number;
}

export const EventPatterns = {
  Query: 'events.query',
  Get: 'events.get',
  Create: 'events.create',
  Stats: 'events.stats',
} as const;

/** The services that answer RPC. The gateway and the CLI only ask. */
export type RpcService = 'function-registry' | 'builder' | 'deployer' | 'event-store' | 'invoker';

export const ServiceNames = {
  Gateway: 'gateway',
  FunctionRegistry: 'function-registry',
  Builder: 'builder',
  Deployer: 'deployer',
  Invoker: 'invoker',
  EventStore: 'event-store',
} as const;

/** Queue that a service's RPC handlers consume; the namespace keeps test runs and installations apart. */
export function rpcQueue(namespace: string, service: RpcService): string {
  return `${namespace}.rpc.${service}`;
}

/** Injection token of the RPC client for a service (gateway, deployer, ...). */
export function rpcClientToken(service: RpcService): string {
  return `RPC_CLIENT_${service.toUpperCase().replace(/-/g, '_')}`;
}
