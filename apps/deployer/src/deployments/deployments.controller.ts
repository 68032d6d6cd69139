import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { DeploymentIdDto, DeploymentPatterns, DeploymentView, FunctionDeploymentDto, InvokerDeployment, ListActiveDeploymentsDto } from '@platform/contracts';
import { validatePayload } from '@platform/messaging';
import { DeploymentsService } from './deployments.service';

/** RPC on the 'deployer' queue. */
@Controller()
export class DeploymentsController {
  constructor(private readonly deployments: DeploymentsService) {}

  @MessagePattern(DeploymentPatterns.Deploy)
  deploy(@Payload() payload: unknown): Promise<DeploymentView> {
    return this.deployments.deploy(validatePayload(FunctionDeploymentDto, payload).functionId);
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
