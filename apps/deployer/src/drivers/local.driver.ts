import { Inject, Injectable, Logger } from '@nestjs/common';
import { InvokerDeploymentRequest, InvokerRoutes } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';
import { InvokerClient } from '../triggers/invoker.client';
import { DeploymentDriver, DeploymentFailure, DriverDeployRequest } from './driver';

/** Local driver: the invoker runs the function in its sandboxed worker pools. */
@Injectable()
export class LocalDriver implements DeploymentDriver {
  readonly name = 'local' as const;
  readonly resolvesSecrets = true;
  private readonly logger = new Logger(LocalDriver.name);

  constructor(
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
    private readonly invoker: InvokerClient,
  ) {}

  async deploy({ deploymentId, spec, env, secrets, versions, routing }: DriverDeployRequest): Promise<{ url: string | null }> {
    const body: InvokerDeploymentRequest = {
      deploymentId,
      spec,
      env,
      secrets,
      ...(versions?.length ? { versions: versions.map((v) => ({ spec: v.spec, env: v.env, secrets: v.secrets ?? [] })) } : {}),
      ...(routing ? { routing } : {}),
    };
    const res = await this.request('PUT', spec.functionId, body, this.settings.INVOKER_DEPLOY_TIMEOUT_MS);
    if (res.status !== 200) throw new DeploymentFailure(await this.invoker.errorMessage(res));
    return { url: `${this.invoker.base}${InvokerRoutes.invoke(spec.functionId)}` };
  }

  async remove({ functionId }: { functionId: string; label: string }): Promise<void> {
    try {
      const res = await this.request('DELETE', functionId, undefined, 30_000);
      if (res.status >= 300 && res.status !== 404) {
        this.logger.warn(`invoker answered ${res.status} to removing ${functionId}: ${await this.invoker.errorMessage(res)}`);
      }
    } catch (err) {
      // An invoker that is down relearns its deployments from ListActive when it starts, and other replicas hear
      // deployment.deleted: the deployment is gone either way.
      this.logger.warn(`could not tell the invoker to remove ${functionId}: ${(err as Error).message}`);
    }
  }

  /** PUT/DELETE /deployments/:functionId; no answer becomes a DeploymentFailure with the invoker client's reason. */
  private async request(method: 'PUT' | 'DELETE', functionId: string, body: unknown, timeoutMs: number): Promise<Response> {
    try {
      return await this.invoker.request(method, InvokerRoutes.deployment(functionId), { body, timeoutMs });
    } catch (err) {
      throw new DeploymentFailure((err as Error).message);
    }
  }
}
