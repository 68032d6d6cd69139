import type { DeploymentDriverName, FunctionRuntimeSpec } from '@platform/contracts';

export interface DriverDeployRequest {
  deploymentId: string;
  spec: FunctionRuntimeSpec;
  /** Resolved env (config env + secret values); only the local driver gets it. */
  env: Record<string, string>;
  /** Which variables of `env` hold secret values. */
  secrets?: string[];
}

/** Where a function runs. `deploy` resolves once it answers invocations, or throws with a reason a person can act on. */
export interface DeploymentDriver {
  readonly name: DeploymentDriverName;
  /** Whether this driver needs secret values resolved (local) or passes secrets by reference (knative). */
  readonly resolvesSecrets: boolean;
  deploy(request: DriverDeployRequest): Promise<{ url: string | null }>;
  /** Removes whatever runs the function; succeeds when it is already gone. */
  remove(target: { functionId: string; label: string }): Promise<void>;
}

/** A deployment the driver could not bring up; the message becomes the deployment's reason. */
export class DeploymentFailure extends Error {}

export const DEPLOYMENT_DRIVERS_TOKEN = Symbol('DEPLOYMENT_DRIVERS');
