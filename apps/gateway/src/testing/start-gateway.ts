import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { AddressInfo } from 'net';
import { HttpErrorFilter } from '@platform/messaging';
import { AppModule } from '../app.module';
import { configureGateway } from '../configure';

/** The gateway as main.ts runs it, listening on a free loopback port: for integration tests. */
export async function startGateway(env: Record<string, string>): Promise<{ app: INestApplication; url: string }> {
  const app = await NestFactory.create(AppModule.forRoot(env), { logger: ['error'] });
  app.enableShutdownHooks();
  app.useGlobalFilters(new HttpErrorFilter());
  configureGateway(app);
  await app.listen(0, '127.0.0.1');
  const { port } = (app.getHttpServer() as { address(): AddressInfo }).address();
  return { app, url: `http://127.0.0.1:${port}` };
}
