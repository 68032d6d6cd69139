import { FunctionRuntimeSpec } from '../functions/function.dto';

export type DeploymentDriverName = 'local' | 'knative';
export const DEPLOYMENT_DRIVERS: readonly DeploymentDriverName[] = ['local', 'knative'];
export type DeploymentStatus = 'DEPLOYING' | 'READY' | 'FAILED' | 'DELETED';

/** The port a function's image serves HTTP on (the runtime shim's HTTP mode): the builder sets it, Knative routes to it. */
export const FUNCTION_PORT = 8080;

/**
 * Deploy waits until the function answers (the invoker has its pool, or the Knative Service is Ready), which can
 * take longer than an ordinary RPC: callers of DeploymentPatterns.Deploy should allow this long.
 */
export const DEPLOY_RPC_TIMEOUT_MS = 300_000;

export interface DeploymentView {
  id: string;
  functionId: string;
  /** The function's label when it was deployed (also the Knative Service name). */
  label?: string;
  version: number;
  driver: DeploymentDriverName;
  status: DeploymentStatus;
  bundleDigest: string;
  image: string | null;
  /** Where invocations go: the invoker for local, the Knative Service URL otherwise. */
  url: string | null;
  reason: string | null;
  spec: FunctionRuntimeSpec;
  /**
   * Resolved environment (config env + secret values) of a local deployment. Only present in the answers of
   * GetForFunction and ListActive, which are meant for invokers: never pass it on to a user or into an event.
   * The secret values are read from the registry for each answer; the deployer's table never holds them.
   */
  env?: Record<string, string>;
  /** With `env`: the names of its variables whose values are secrets (the invoker masks them in captured logs). */
  secrets?: string[];
  createdAt: string;
  updatedAt: string;
}

/**
 * Payload of DeploymentPatterns.GetForFunction and Undeploy: `functionId` is the function's id or label.
 * GetForFunction answers the function's current deployment whatever its status (DEPLOYING, READY or FAILED with
 * its reason), 404 when it has none; only a READY one takes invocations.
 */
export interface FunctionDeploymentQuery {
  functionId: string;
}

/** Payload of DeploymentPatterns.ListActive: READY deployments, optionally of one driver. */
export interface ListActiveDeploymentsQuery {
  driver?: DeploymentDriverName;
}

/** Body of the local driver's `PUT ${INVOKER_URL}/deployments/:functionId`. */
export interface InvokerDeploymentRequest {
  deploymentId: string;
  spec: FunctionRuntimeSpec;
  env: Record<string, string>;
  /** Names of the variables of `env` whose values are secrets: kept in memory only, masked in captured logs. */
  secrets?: string[];
}

/** Header on invocations the deployer makes for a trigger. */
export const TRIGGER_HEADER = 'x-hks-trigger';
export type TriggerKind = 'schedule' | 'queue' | 'event';
