import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorBody, InvokerDeploymentRequest, InvokerRoutes, isErrorBody } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { DeployerSettingsValues } from '../settings';
import { DeploymentDriver, DeploymentFailure, DriverDeployRequest } from './driver';

/** Local driver: the invoker runs the function in its sandboxed worker pools. */
@Injectable()
export class LocalDriver implements DeploymentDriver {
  readonly name = 'local' as const;
  readonly resolvesSecrets = true;
  private readonly logger = new Logger(LocalDriver.name);
  private readonly invokerUrl: string;

  constructor(@Inject(SETTINGS) private readonly settings: DeployerSettingsValues) {
    this.invokerUrl = settings.INVOKER_URL.replace(/\/+$/, '');
  }

  async deploy({ deploymentId, spec, env }: DriverDeployRequest): Promise<{ url: string | null }> {
    const body: InvokerDeploymentRequest = { deploymentId, spec, env };
    const res = await this.request('PUT', spec.functionId, body, this.settings.INVOKER_DEPLOY_TIMEOUT_MS);
    if (res.status !== 200) throw new DeploymentFailure(await errorMessage(res));
    return { url: `${this.invokerUrl}${InvokerRoutes.invoke(spec.functionId)}` };
  }

  async remove({ functionId }: { functionId: string; label: string }): Promise<void> {
    try {
      const res = await this.request('DELETE', functionId, undefined, 30_000);
      if (res.status >= 300 && res.status !== 404) {
        this.logger.warn(`invoker answered ${res.status} to removing ${functionId}: ${await errorMessage(res)}`);
      }
    } catch (err) {
      // An invoker that is down relearns its deployments from ListActive when it starts, and other replicas hear
      // deployment.deleted: the deployment is gone either way.
      this.logger.warn(`could not tell the invoker to remove ${functionId}: ${(err as Error).message}`);
    }
  }

  private async request(method: 'PUT' | 'DELETE', functionId: string, body: unknown, timeoutMs: number): Promise<Response> {
    const url = `${this.invokerUrl}${InvokerRoutes.deployment(functionId)}`;
    try {
      return await fetch(url, {
        method,
        headers: body === undefined ? {} : { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    } catch (err) {
      if ((err as Error).name === 'TimeoutError') {
        throw new DeploymentFailure(`invoker at ${this.invokerUrl} did not answer within ${timeoutMs} ms`);
      }
      throw new DeploymentFailure(`invoker at ${this.invokerUrl} is unreachable`);
    }
  }
}

async function errorMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as ErrorBody;
    if (isErrorBody(body)) return body.message;
  } catch {
    // Not JSON: use the text itself.
  }
  return text.trim() ? text.trim().slice(0, 500) : `invoker answered ${res.status} ${res.statusText}`;
}
