import { Controller, Inject, Injectable, INestApplication, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { EventPage, EventPatterns, newEvent, PlatformEvent } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS, SettingsModule } from '@platform/config';
import { RpcErrorFilter, rpcServerOptions } from '@platform/messaging';

/** The invocation events the stand-in event store holds. */
@Injectable()
export class FakeEventStoreState {
  readonly events: PlatformEvent[] = [];

  /** A recorded invocation result, as the invoker publishes it. */
  addInvocation(fields: Partial<PlatformEvent> & Pick<PlatformEvent, 'invocationId' | 'functionId'>): PlatformEvent {
    const e = newEvent({ name: 'invocation.succeeded', type: 'FUNCTION_INVOCATION', status: 'SUCCESS', source: 'invoker', ...fields });
    this.events.push(e);
    return e;
  }
}

/** Answers EventPatterns.Query by invocation id, on the real 'event-store' RPC queue. */
@Controller()
class FakeEventStoreController {
  constructor(@Inject(FakeEventStoreState) private readonly state: FakeEventStoreState) {}

  @MessagePattern(EventPatterns.Query)
  query(@Payload() p: { invocationId?: string; limit?: number }): EventPage {
    const items = this.state.events.filter((e) => !p.invocationId || e.invocationId === p.invocationId);
    return { items, total: items.length, page: 1, limit: p.limit ?? 50 };
  }
}

export async function startFakeEventStore(env: Record<string, string>, state: FakeEventStoreState): Promise<INestApplication> {
  @Module({
    imports: [SettingsModule.forRoot({}, env)],
    controllers: [FakeEventStoreController],
    providers: [{ provide: FakeEventStoreState, useValue: state }],
  })
  class EventStoreModule {}
  const app = (await Test.createTestingModule({ imports: [EventStoreModule] }).compile()).createNestApplication({ logger: false });
  app.useGlobalFilters(new RpcErrorFilter());
  app.connectMicroservice(rpcServerOptions(app.get<CommonSettingsValues>(SETTINGS), 'event-store'), { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.init();
  return app;
}
