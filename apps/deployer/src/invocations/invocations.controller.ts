import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  AcceptedInvocation,
  CallbackKeyView,
  InvocationIdDto,
  InvocationListQueryDto,
  InvocationPage,
  InvocationPatterns,
  InvocationView,
  RedriveManyDto,
  RedriveManyResult,
  ReplayInvocationDto,
} from '@platform/contracts';
import { validatePayload } from '@platform/messaging';
import { acceptCommand } from './accept-command';
import { InvocationsService } from './invocations.service';

/** RPC on the 'deployer' queue: asynchronous invocations. */
@Controller()
export class InvocationsController {
  constructor(private readonly invocations: InvocationsService) {}

  @MessagePattern(InvocationPatterns.Accept)
  accept(@Payload() payload: unknown): Promise<AcceptedInvocation> {
    return this.invocations.accept(acceptCommand(payload));
  }

  @MessagePattern(InvocationPatterns.Get)
  get(@Payload() payload: unknown): Promise<InvocationView> {
    return this.invocations.get(validatePayload(InvocationIdDto, payload).id);
  }

  @MessagePattern(InvocationPatterns.List)
  list(@Payload() payload: unknown): Promise<InvocationPage> {
    return this.invocations.list(validatePayload(InvocationListQueryDto, payload ?? {}));
  }

  @MessagePattern(InvocationPatterns.Cancel)
  cancel(@Payload() payload: unknown): Promise<InvocationView> {
    return this.invocations.cancel(validatePayload(InvocationIdDto, payload).id);
  }

  @MessagePattern(InvocationPatterns.Redrive)
  redrive(@Payload() payload: unknown): Promise<InvocationView> {
    return this.invocations.redrive(validatePayload(InvocationIdDto, payload).id);
  }

  @MessagePattern(InvocationPatterns.RedriveMany)
  redriveMany(@Payload() payload: unknown): Promise<RedriveManyResult> {
    return this.invocations.redriveMany(validatePayload(RedriveManyDto, payload ?? {}));
  }

  @MessagePattern(InvocationPatterns.Replay)
  replay(@Payload() payload: unknown): Promise<AcceptedInvocation> {
    return this.invocations.replay(validatePayload(ReplayInvocationDto, payload));
  }

  @MessagePattern(InvocationPatterns.CallbackKey)
  callbackKey(): Promise<CallbackKeyView> {
    return this.invocations.callbackKey();
  }
}
