import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  BuildSourceQuery,
  CreateFunctionDto,
  FunctionPatterns,
  FunctionStatus,
  ListFunctionsQueryDto,
  SetDeploymentStatusCommand,
  UpdateFunctionDto,
  ValidationError,
} from '@platform/contracts';
import { validatePayload } from '@platform/messaging';
import { BuildsService } from '../builds/builds.service';
import { functionRef, versionOf } from './function-ref';
import { FunctionsService } from './functions.service';

const DEPLOYMENT_STATUSES: string[] = [FunctionStatus.Deploying, FunctionStatus.Ready, FunctionStatus.Failed, FunctionStatus.Built];

/** RPC handlers of FunctionPatterns (secrets apart); every payload is validated here. */
@Controller()
export class FunctionsController {
  constructor(
    private readonly functions: FunctionsService,
    private readonly builds: BuildsService,
  ) {}

  @MessagePattern(FunctionPatterns.Create)
  create(@Payload() payload: unknown) {
    return this.functions.create(validatePayload(CreateFunctionDto, payload));
  }

  @MessagePattern(FunctionPatterns.List)
  list(@Payload() payload: unknown) {
    return this.functions.list(validatePayload(ListFunctionsQueryDto, payload ?? {}));
  }

  @MessagePattern(FunctionPatterns.Get)
  get(@Payload() payload: unknown) {
    return this.functions.get(functionRef(payload));
  }

  @MessagePattern(FunctionPatterns.Resolve)
  resolve(@Payload() payload: unknown) {
    return this.functions.resolve(functionRef(payload));
  }

  @MessagePattern(FunctionPatterns.Update)
  update(@Payload() payload: { id?: unknown; changes?: unknown }) {
    const changes = validatePayload(UpdateFunctionDto, payload?.changes ?? {});
    return this.functions.update(functionRef(payload), changes);
  }

  @MessagePattern(FunctionPatterns.Delete)
  delete(@Payload() payload: unknown) {
    return this.functions.delete(functionRef(payload));
  }

  @MessagePattern(FunctionPatterns.RequestBuild)
  build(@Payload() payload: unknown) {
    return this.builds.requestBuild(functionRef(payload));
  }

  @MessagePattern(FunctionPatterns.GetBuildSource)
  buildSource(@Payload() payload: unknown) {
    return this.builds.buildSource((payload ?? {}) as Partial<BuildSourceQuery>);
  }

  @MessagePattern(FunctionPatterns.GetRuntimeSpec)
  runtimeSpec(@Payload() payload: { version?: unknown }) {
    return this.functions.runtimeSpec(functionRef(payload), versionOf(payload, true));
  }

  @MessagePattern(FunctionPatterns.ListVersions)
  versions(@Payload() payload: unknown) {
    return this.functions.versions(functionRef(payload));
  }

  @MessagePattern(FunctionPatterns.GetVersion)
  version(@Payload() payload: { version?: unknown }) {
    return this.functions.getVersion(functionRef(payload), versionOf(payload, false)!);
  }

  @MessagePattern(FunctionPatterns.SetDeploymentStatus)
  setDeploymentStatus(@Payload() payload: Partial<SetDeploymentStatusCommand>) {
    if (!payload || !DEPLOYMENT_STATUSES.includes(payload.status as string)) {
      throw new ValidationError(`status must be one of ${DEPLOYMENT_STATUSES.join(', ')}`);
    }
    versionOf(payload, true);
    if (payload.reason !== undefined && typeof payload.reason !== 'string') throw new ValidationError('reason must be a string');
    return this.functions.setDeploymentStatus({ ...(payload as SetDeploymentStatusCommand), functionId: functionRef(payload) });
  }
}
