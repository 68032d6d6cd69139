import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { BuildPatterns, BuildView, GetBuildQuery, ListBuildsForFunctionQuery } from '@platform/contracts';
import { validatePayload } from '@platform/messaging';
import { BuildsService } from './builds.service';

/** RPC: what other services (and the gateway, for users) ask about builds. */
@Controller()
export class BuildsController {
  constructor(private readonly builds: BuildsService) {}

  @MessagePattern(BuildPatterns.Get)
  get(@Payload() payload: unknown): Promise<BuildView> {
    const q = validatePayload(GetBuildQuery, payload);
    return this.builds.get(q.buildId);
  }

  @MessagePattern(BuildPatterns.ListForFunction)
  list(@Payload() payload: unknown): Promise<BuildView[]> {
    const q = validatePayload(ListBuildsForFunctionQuery, payload);
    return this.builds.listForFunction(q.functionId, q.limit);
  }
}
