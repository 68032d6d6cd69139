import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { RpcErrorFilter, rpcServerOptions } from '@platform/messaging';
import { platformLogger } from '@platform/observability';
import { AppModule, SERVICE } from '../app.module';

/**
 * Test helpers (no test runner needed, so they live with the app): the event store booted the
 * way startService() boots it, but on port 0 and with the test's own environment.
 */
export async function startEventStore(env: Record<string, string>): Promise<INestApplication> {
  const app = await NestFactory.create(AppModule.forRoot(env), { logger: platformLogger(SERVICE, env.LOG_LEVEL), abortOnError: false });
  app.useGlobalFilters(new RpcErrorFilter());
  app.connectMicroservice(rpcServerOptions(app.get<CommonSettingsValues>(SETTINGS), SERVICE), { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.listen(0, '127.0.0.1');
  return app;
}

export async function httpUrl(app: INestApplication): Promise<string> {
  return (await app.getUrl()).replace('[::1]', '127.0.0.1');
}
