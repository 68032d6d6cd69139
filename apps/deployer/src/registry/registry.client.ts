import { Injectable } from '@nestjs/common';
import { FunctionPatterns, FunctionRuntimeSpec, ResolveSecretsCommand, SetDeploymentStatusCommand } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';

/** What the deployer asks the function registry (the owner of functions, their status and secrets). */
@Injectable()
export class RegistryClient {
  constructor(private readonly rpc: RpcClient) {}

  /** 404 when the function does not exist, 409 when it has no successful build: both passed through. */
  runtimeSpec(idOrLabel: string, version?: number): Promise<FunctionRuntimeSpec> {
    return this.rpc.call<FunctionRuntimeSpec>('function-registry', FunctionPatterns.GetRuntimeSpec, { id: idOrLabel, ...(version ? { version } : {}) });
  }

  async setStatus(functionId: string, version: number, status: SetDeploymentStatusCommand['status'], reason?: string): Promise<void> {
    const command: SetDeploymentStatusCommand = { functionId, version, status, ...(reason !== undefined ? { reason } : {}) };
    await this.rpc.call('function-registry', FunctionPatterns.SetDeploymentStatus, command);
  }

  /** Secret values by the env name they are exposed as, for the secrets `version`'s own config names. Never log the result. */
  resolveSecrets(functionId: string, version: number): Promise<Record<string, string>> {
    const command: ResolveSecretsCommand = { functionId, version };
    return this.rpc.call<Record<string, string>>('function-registry', FunctionPatterns.ResolveSecrets, command);
  }

  /** One stored secret's keys (an event source's credentials). Never log the result. */
  resolveSecret(name: string): Promise<Record<string, string>> {
    return this.rpc.call<Record<string, string>>('function-registry', FunctionPatterns.ResolveSecret, { name });
  }
}
