import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  CreateEventDto,
  EventPage,
  EventPatterns,
  EventQueryDto,
  GetEventDto,
  InvocationStats,
  InvocationStatsQueryDto,
  PlatformEvent,
} from '@platform/contracts';
import { validatePayload } from '@platform/messaging';
import { StatsService } from '../stats/stats.service';
import { EventsService } from './events.service';
import { FunctionRefs } from './function-refs';

/** The event store's RPC API; errors travel back as ErrorBody through the RPC filter. */
@Controller()
export class EventsController {
  constructor(
    private readonly events: EventsService,
    private readonly stats: StatsService,
    private readonly functions: FunctionRefs,
  ) {}

  @MessagePattern(EventPatterns.Query)
  async query(@Payload() payload: unknown): Promise<EventPage> {
    return this.events.query(validatePayload(EventQueryDto, await this.functions.resolveIn(payload ?? {})));
  }

  @MessagePattern(EventPatterns.Get)
  async get(@Payload() payload: unknown): Promise<PlatformEvent> {
    return this.events.get(validatePayload(GetEventDto, payload).id);
  }

  @MessagePattern(EventPatterns.Create)
  async create(@Payload() payload: unknown): Promise<PlatformEvent> {
    return this.events.create(validatePayload(CreateEventDto, await this.functions.resolveIn(payload)));
  }

  @MessagePattern(EventPatterns.Stats)
  async invocationStats(@Payload() payload: unknown): Promise<InvocationStats> {
    return this.stats.invocationStats(validatePayload(InvocationStatsQueryDto, await this.functions.resolveIn(payload)));
  }
}
