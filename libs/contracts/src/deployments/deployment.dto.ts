import { IsIn, IsOptional, IsString, IsUUID, MaxLength, MinLength } from 'class-validator';
import { WholeNumber } from '../functions/validators';
import { MAX_VERSION, VERSION_RANGE } from './traffic';
import { DEPLOYMENT_DRIVERS, DeploymentDriverName } from './deployment';

/** Payload of DeploymentPatterns.Deploy, GetForFunction and Undeploy: the function's id or label. */
export class FunctionDeploymentDto {
  @IsString({ message: 'functionId must be the function id or label' })
  @MinLength(1, { message: 'functionId must be the function id or label' })
  @MaxLength(200)
  functionId: string;
}

/** Payload of DeploymentPatterns.Deploy: a function, and optionally which of its versions. */
export class DeployFunctionDto extends FunctionDeploymentDto {
  @IsOptional()
  @WholeNumber(1, MAX_VERSION, `version must be ${VERSION_RANGE}`)
  version?: number;
}

/** Payload of DeploymentPatterns.Rollback. */
export class RollbackFunctionDto extends FunctionDeploymentDto {
  @IsOptional()
  @WholeNumber(1, MAX_VERSION, `to must be ${VERSION_RANGE}`)
  to?: number;
}

/** Payload of DeploymentPatterns.Get. */
export class DeploymentIdDto {
  @IsUUID('all', { message: 'id must be a deployment id (a UUID)' })
  id: string;
}

/** Payload of DeploymentPatterns.ListActive. */
export class ListActiveDeploymentsDto {
  @IsOptional()
  @IsIn(DEPLOYMENT_DRIVERS as unknown as string[], { message: `driver must be one of ${DEPLOYMENT_DRIVERS.join(', ')}` })
  driver?: DeploymentDriverName;
}
