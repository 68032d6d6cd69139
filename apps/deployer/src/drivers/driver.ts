import type { DeploymentDriverName, FunctionRuntimeSpec, Routing } from '@platform/contracts';

/** Another version the deployment runs beside its own. */
export interface DriverVersion {
  spec: FunctionRuntimeSpec;
  /** Resolved env (local only). */
  env: Record<string, string>;
  secrets?: string[];
}

export interface DriverDeployRequest {
  deploymentId: string;
  spec: FunctionRuntimeSpec;
  /** Resolved env (config env + secret values); only the local driver gets it. */
  env: Record<string, string>;
  /** Which variables of `env` hold secret values. */
  secrets?: string[];
  /** The other versions it runs (aliased or in the split) and how invocations are spread over them. */
  versions?: DriverVersion[];
  routing?: Routing;
}

/** Where a function runs. `deploy` resolves once it answers invocations, or throws with a reason a person can act on. */
export interface DeploymentDriver {
  readonly name: DeploymentDriverName;
  /** Whether this driver needs secret values resolved (local) or passes secrets by reference (knative). */
  readonly resolvesSecrets: boolean;
  /**
   * Also how a deployment's routing changes (same deploymentId, new versions or routing): a driver must not restart
   * what already runs. `versionUrls`: where each other version answers (knative tags).
   */
  deploy(request: DriverDeployRequest): Promise<{ url: string | null; versionUrls?: Record<number, string | null> }>;
  /** Removes whatever runs the function; succeeds when it is already gone. */
  remove(target: { functionId: string; label: string }): Promise<void>;
}

/** A deployment the driver could not bring up; the message becomes the deployment's reason. */
export class DeploymentFailure extends Error {}

export const DEPLOYMENT_DRIVERS_TOKEN = Symbol('DEPLOYMENT_DRIVERS');
