import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { RpcErrorFilter, rpcServerOptions } from '@platform/messaging';
import { AppModule } from '../app.module';

/**
 * The registry as main.ts runs it (RPC consumer, build-event consumer, migrations), minus the HTTP
 * listener: for the integration tests of the registry and of the services that call it.
 */
export async function startRegistry(env: Record<string, string>): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(env), { logger: ['error'] });
  app.useGlobalFilters(new RpcErrorFilter());
  app.connectMicroservice(rpcServerOptions(app.get<CommonSettingsValues>(SETTINGS), 'function-registry'), { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.init();
  return app;
}
