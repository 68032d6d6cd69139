import { DynamicModule, Inject, Module, OnModuleInit } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { SettingsModule } from '@platform/config';
import { MessagingModule } from '@platform/messaging';
import { HealthModule, HealthRegistry, InternalRoutesModule } from '@platform/observability';
import { PersistenceModule } from '@platform/persistence';
import { BuildEventsConsumer } from './builds/build-events.consumer';
import { BuildQueue } from './builds/build-queue';
import { BuildsService } from './builds/builds.service';
import { FunctionVersionEntity } from './functions/function-version.entity';
import { FunctionEntity } from './functions/function.entity';
import { FunctionsController } from './functions/functions.controller';
import { FunctionsService } from './functions/functions.service';
import { ApiKeyEntity } from './keys/api-key.entity';
import { ApiKeysController } from './keys/api-keys.controller';
import { ApiKeysService } from './keys/api-keys.service';
import { migrations } from './migrations';
import { SecretCipher } from './secrets/secret-cipher';
import { SecretEntity } from './secrets/secret.entity';
import { RuntimesController } from './runtimes/runtimes.controller';
import { SecretsController } from './secrets/secrets.controller';
import { SecretsService } from './secrets/secrets.service';
import { RegistrySettings } from './settings';

const entities = [FunctionEntity, FunctionVersionEntity, SecretEntity, ApiKeyEntity];

/** Registers what the registry depends on with /readyz. */
class RegistryHealth implements OnModuleInit {
  constructor(
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
    @Inject(DataSource) private readonly db: DataSource,
    @Inject(BuildQueue) private readonly queue: BuildQueue,
  ) {}
  onModuleInit(): void {
    this.health.register('database', async () => void (await this.db.query('SELECT 1')));
    this.health.register('redis', () => this.queue.ping());
  }
}

@Module({})
export class AppModule {
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    return {
      module: AppModule,
      imports: [
        SettingsModule.forRoot(RegistrySettings, env),
        MessagingModule.forRoot('function-registry'),
        HealthModule.forService('function-registry'),
        InternalRoutesModule,
        PersistenceModule.forService({ schema: 'registry', entities, migrations }),
        TypeOrmModule.forFeature(entities),
      ],
      controllers: [FunctionsController, SecretsController, ApiKeysController, RuntimesController],
      providers: [FunctionsService, BuildsService, BuildQueue, BuildEventsConsumer, SecretCipher, SecretsService, ApiKeysService, RegistryHealth],
    };
  }
}
