import type { InvocationTriggerKind } from '../invocations/invocation';
import { ApiProperty } from '@nestjs/swagger';
import { FunctionRuntimeSpec } from '../functions/function.dto';
import { DATE_TIME, UUID } from '../openapi-schemas';
import type { Routing } from './traffic';

export type DeploymentDriverName = 'local' | 'knative';
export const DEPLOYMENT_DRIVERS: readonly DeploymentDriverName[] = ['local', 'knative'];
export const DEPLOYMENT_STATUSES = ['DEPLOYING', 'READY', 'FAILED', 'DELETED'] as const;
export type DeploymentStatus = (typeof DEPLOYMENT_STATUSES)[number];

/** The port a function's image serves HTTP on (the runtime shim's HTTP mode): the builder sets it, Knative routes to it. */
export const FUNCTION_PORT = 8080;

/**
 * Deploy waits until the function answers (the invoker has its pool, or the Knative Service is Ready), which can
 * take longer than an ordinary RPC: callers of DeploymentPatterns.Deploy should allow this long.
 */
export const DEPLOY_RPC_TIMEOUT_MS = 300_000;

/**
 * A deployment as users see it: the answer of deploy and undeploy (and DeploymentPatterns.Get), and the payload of
 * deployment.* events. Nothing internal: no runtime spec, no env, no address inside the platform.
 */
export class DeploymentView {
  @ApiProperty({ ...UUID })
  id: string;

  @ApiProperty({ ...UUID })
  functionId: string;

  @ApiProperty({ example: 'my-function', description: "The function's label when it was deployed (also its Knative Service's name)." })
  label: string;

  @ApiProperty({ type: 'integer', minimum: 1, description: 'The function version deployed.' })
  version: number;

  @ApiProperty({ enum: DEPLOYMENT_DRIVERS, enumName: 'DeploymentDriver' })
  driver: DeploymentDriverName;

  @ApiProperty({ enum: DEPLOYMENT_STATUSES, enumName: 'DeploymentStatus' })
  status: DeploymentStatus;

  @ApiProperty({ example: `sha256:${'0f'.repeat(32)}`, description: 'The bundle deployed.' })
  bundleDigest: string;

  @ApiProperty({ type: String, nullable: true, description: 'The image deployed (knative).' })
  image: string | null;

  @ApiProperty({
    type: String,
    nullable: true,
    example: '/fn/my-function',
    description:
      "The function's URL on the gateway while the deployment is DEPLOYING or READY: /fn/{label}, followed by its first http trigger's path when that names one. " +
      'null for a function with triggers but no http trigger (/fn/ does not serve it: POST /api/v1/functions/invoke/{id} runs it), and once the deployment FAILED or was DELETED.',
  })
  url: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why it FAILED, or why it was DELETED.' })
  reason: string | null;

  @ApiProperty({ ...DATE_TIME })
  createdAt: string;

  @ApiProperty({ ...DATE_TIME })
  updatedAt: string;
}

/** A deployment as the deployer tells invokers (GetForFunction, ListActive): internal, never in an answer to a user. */
export interface InvokerDeployment extends Omit<DeploymentView, 'url'> {
  /** Where invocations go: the invoker for local, the Knative Service URL otherwise. */
  endpoint: string | null;
  spec: FunctionRuntimeSpec;
  /**
   * Resolved environment (config env + secret values) of a local deployment. Never pass it on to a user or into an
   * event. The secret values are read from the registry for each answer; the deployer's table never holds them.
   */
  env?: Record<string, string>;
  /** With `env`: the names of its variables whose values are secrets (the invoker masks them in captured logs). */
  secrets?: string[];
  /** The other versions that run beside `spec` (named by an alias or a split), each with its own env. */
  versions?: VersionDeployment[];
  routing?: Routing;
}

/** One more version of a deployment: what runs it, and (knative) the URL of its tagged revision. */
export interface VersionDeployment {
  spec: FunctionRuntimeSpec;
  env?: Record<string, string>;
  secrets?: string[];
  endpoint?: string | null;
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
  versions?: VersionDeployment[];
  routing?: Routing;
}

/** Header on invocations the deployer makes for a trigger. */
export const TRIGGER_HEADER = 'x-hks-trigger';
export type TriggerKind = Exclude<InvocationTriggerKind, 'api' | 'http'>;
