import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  DeployFunctionDto,
  DeploymentIdDto,
  DeploymentPatterns,
  DeploymentView,
  FunctionDeploymentDto,
  InvokerDeployment,
  ListActiveDeploymentsDto,
  RollbackFunctionDto,
  SetAliasDto,
  SetTrafficDto,
  TrafficView,
} from '@platform/contracts';
import { validatePayload } from '@platform/messaging';
import { DeploymentsService } from './deployments.service';
import { TrafficService } from './traffic.service';

/** RPC on the 'deployer' queue. */
@Controller()
export class DeploymentsController {
  constructor(
    private readonly deployments: DeploymentsService,
    private readonly traffic: TrafficService,
  ) {}

  @MessagePattern(DeploymentPatterns.Deploy)
  deploy(@Payload() payload: unknown): Promise<DeploymentView> {
    const { functionId, version } = validatePayload(DeployFunctionDto, payload);
    return this.deployments.deploy(functionId, version);
  }

  @MessagePattern(DeploymentPatterns.Rollback)
  rollback(@Payload() payload: unknown): Promise<DeploymentView> {
    const { functionId, to } = validatePayload(RollbackFunctionDto, payload);
    return this.deployments.rollback(functionId, to);
  }

  @MessagePattern(DeploymentPatterns.GetTraffic)
  getTraffic(@Payload() payload: unknown): Promise<TrafficView> {
    return this.traffic.get(validatePayload(FunctionDeploymentDto, payload).functionId);
  }

  @MessagePattern(DeploymentPatterns.SetTraffic)
  setTraffic(@Payload() payload: { traffic?: unknown }): Promise<TrafficView> {
    const { functionId } = validatePayload(FunctionDeploymentDto, { functionId: (payload as { functionId?: unknown })?.functionId });
    return this.traffic.setTraffic(functionId, validatePayload(SetTrafficDto, payload?.traffic ?? {}));
  }

  @MessagePattern(DeploymentPatterns.SetAlias)
  setAlias(@Payload() payload: { functionId?: unknown; alias?: unknown; version?: unknown }): Promise<TrafficView> {
    const { functionId } = validatePayload(FunctionDeploymentDto, { functionId: payload?.functionId });
    const { version } = validatePayload(SetAliasDto, { version: payload?.version });
    return this.traffic.setAlias(functionId, String(payload?.alias ?? ''), version);
  }

  @MessagePattern(DeploymentPatterns.DeleteAlias)
  deleteAlias(@Payload() payload: { functionId?: unknown; alias?: unknown }): Promise<TrafficView> {
    const { functionId } = validatePayload(FunctionDeploymentDto, { functionId: payload?.functionId });
    return this.traffic.deleteAlias(functionId, String(payload?.alias ?? ''));
  }

  @MessagePattern(DeploymentPatterns.Get)
  get(@Payload() payload: unknown): Promise<DeploymentView> {
    return this.deployments.get(validatePayload(DeploymentIdDto, payload).id);
  }

  @MessagePattern(DeploymentPatterns.GetForFunction)
  getForFunction(@Payload() payload: unknown): Promise<InvokerDeployment> {
    return this.deployments.getForFunction(validatePayload(FunctionDeploymentDto, payload).functionId);
  }

  @MessagePattern(DeploymentPatterns.ListActive)
  listActive(@Payload() payload: unknown): Promise<InvokerDeployment[]> {
    return this.deployments.listActive(validatePayload(ListActiveDeploymentsDto, payload ?? {}).driver);
  }

  @MessagePattern(DeploymentPatterns.Undeploy)
  undeploy(@Payload() payload: unknown): Promise<DeploymentView> {
    return this.deployments.undeploy(validatePayload(FunctionDeploymentDto, payload).functionId);
  }
}
