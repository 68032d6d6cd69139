import { DynamicModule, Module } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { dataSourceOptions, openDataSource, ServiceDataSourceOptions } from './data-source';

/** TypeORM for one service: its own schema, its own migrations, run at start-up. */
@Module({})
export class PersistenceModule {
  static forService(o: Omit<ServiceDataSourceOptions, 'url'>): DynamicModule {
    return {
      module: PersistenceModule,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [SETTINGS],
          useFactory: (settings: CommonSettingsValues) => dataSourceOptions({ ...o, url: settings.DATABASE_URL }),
          dataSourceFactory: async (options) => {
            const url = (options as { url: string }).url;
            return openDataSource({ ...o, url });
          },
        }),
      ],
      exports: [TypeOrmModule],
    };
  }
}
