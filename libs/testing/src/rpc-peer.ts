import { INestApplication, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { SettingsModule } from '@platform/config';
import type { RpcService } from '@platform/contracts';
import { MessagingModule, RpcClientsModule } from '@platform/messaging';
import { platformLogger } from '@platform/observability';

/**
 * Another service of the same installation, for a test: it publishes and subscribes to events and calls `services`
 * over RPC (get EventPublisher, EventSubscriber or RpcClient from it), as any app of the platform would.
 */
export async function startPeer(env: Record<string, string>, name = 'test-peer', services: RpcService[] = ['event-store']): Promise<INestApplication> {
  @Module({
    imports: [SettingsModule.forRoot({}, env), MessagingModule.forRoot(name), RpcClientsModule.register(services)],
  })
  class PeerModule {}
  const app = await NestFactory.create(PeerModule, { logger: platformLogger(name, env.LOG_LEVEL), abortOnError: false });
  await app.init();
  return app;
}
