import { DynamicModule, Injectable, Module, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { ServiceNames } from '@platform/contracts';
import { SettingsModule } from '@platform/config';
import { MessagingModule } from '@platform/messaging';
import { HealthModule, HealthRegistry, InternalRoutesModule } from '@platform/observability';
import { PersistenceModule } from '@platform/persistence';
import { ArtifactsModule } from './artifacts/artifacts.module';
import { Build } from './builds/build.entity';
import { BuildsModule } from './builds/builds.module';
import { builderMigrations } from './migrations';
import { BuilderSettingsSchema } from './settings';

@Injectable()
class DatabaseHealth implements OnModuleInit {
  constructor(
    private readonly ds: DataSource,
    private readonly health: HealthRegistry,
  ) {}
  onModuleInit(): void {
    this.health.register('postgres', async () => {
      await this.ds.query('SELECT 1');
    });
  }
}

/** The builder: BullMQ build worker, builds table (schema "builder"), artifact store, build RPC. */
@Module({})
export class BuilderModule {
  static register(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    return {
      module: BuilderModule,
      imports: [
        SettingsModule.forRoot(BuilderSettingsSchema, env),
        HealthModule.forService(ServiceNames.Builder),
        InternalRoutesModule,
        MessagingModule.forRoot(ServiceNames.Builder),
        PersistenceModule.forService({ schema: 'builder', entities: [Build], migrations: builderMigrations }),
        ArtifactsModule,
        BuildsModule,
      ],
      providers: [DatabaseHealth],
    };
  }
}
