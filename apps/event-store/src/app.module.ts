import { DynamicModule, Module } from '@nestjs/common';
import { SettingsModule } from '@platform/config';
import { MessagingModule, RpcClientsModule } from '@platform/messaging';
import { HealthModule, InternalRoutesModule } from '@platform/observability';
import { PersistenceModule } from '@platform/persistence';
import { EventsController } from './events/events.controller';
import { EventsService } from './events/events.service';
import { PostedEvents } from './events/posted-events';
import { FunctionLabels } from './events/function-labels';
import { FunctionRefs } from './events/function-refs';
import { Readiness } from './health/readiness';
import { EventIngest } from './ingest/event-ingest.service';
import { CreateEvents1732406400000 } from './migrations/1732406400000-create-events';
import { EventStoreSettings } from './settings';
import { StatsService } from './stats/stats.service';
import { EventWriter } from './storage/event-writer';

export const SERVICE = 'event-store';

@Module({})
export class AppModule {
  /** The event store, configured from `env` (process.env in production, an isolated env in tests). */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    return {
      module: AppModule,
      imports: [
        SettingsModule.forRoot(EventStoreSettings, env),
        MessagingModule.forRoot(SERVICE),
        // Rows are read and written with hand-written SQL (batched unnest inserts, dynamic filters,
        // percentile_cont), so no TypeORM entities: the migrations are the schema's one definition.
        PersistenceModule.forService({ schema: 'events', entities: [], migrations: [CreateEvents1732406400000] }),
        HealthModule.forService(SERVICE),
        InternalRoutesModule,
        RpcClientsModule.register(['function-registry']),
      ],
      controllers: [EventsController],
      providers: [EventWriter, EventIngest, EventsService, PostedEvents, StatsService, FunctionRefs, FunctionLabels, Readiness],
    };
  }
}
