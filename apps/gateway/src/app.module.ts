import { DebugController } from './debug/debug.controller';
import { DebugSocketRoute } from './debug/debug-socket.route';
import { InvokerDebugClient } from './debug/invoker-debug.client';
import { DynamicModule, Inject, Module, OnModuleInit } from '@nestjs/common';
import { SettingsModule } from '@platform/config';
import { AmqpConnection, MessagingModule, RpcClientsModule } from '@platform/messaging';
import { HealthModule, HealthRegistry } from '@platform/observability';
import { APP_GUARD } from '@nestjs/core';
import { ApiKeyGuard } from './access/api-key.guard';
import { FunctionAuthCache } from './access/function-auth.cache';
import { GatewayAccess } from './access/gateway-access';
import { KeyVerifier } from './access/key-verifier';
import { ConsoleRoute } from './console/console-route';
import { EventStreamService } from './events/event-stream.service';
import { EventsController } from './events/events.controller';
import { PostedEventsRoute } from './events/posted-events.route';
import { FunctionsController } from './functions/functions.controller';
import { VersionsController } from './functions/versions.controller';
import { InvocationsController } from './invocations/invocations.controller';
import { KeysController } from './keys/keys.controller';
import { AsyncAccept } from './proxy/async-accept';
import { InvocationProxy } from './proxy/invocation-proxy';
import { RuntimesController } from './runtimes/runtimes.controller';
import { SecretsController } from './secrets/secrets.controller';
import { GatewaySettings } from './settings';
import { SourcesController } from './sources/sources.controller';

class GatewayHealth implements OnModuleInit {
  constructor(
    @Inject(HealthRegistry) private readonly health: HealthRegistry,
    @Inject(AmqpConnection) private readonly amqp: AmqpConnection,
  ) {}
  onModuleInit(): void {
    this.health.register('rabbitmq', () => {
      if (!this.amqp.manager.isConnected()) throw new Error('not connected');
    });
  }
}

@Module({})
export class AppModule {
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    return {
      module: AppModule,
      imports: [
        SettingsModule.forRoot(GatewaySettings, env),
        MessagingModule.forRoot('gateway'),
        HealthModule.forService('gateway'),
        RpcClientsModule.register(['function-registry', 'builder', 'deployer', 'event-store']),
      ],
      controllers: [
        FunctionsController,
        VersionsController,
        InvocationsController,
        SecretsController,
        EventsController,
        KeysController,
        SourcesController,
        RuntimesController,
        DebugController,
      ],
      providers: [
        KeyVerifier,
        GatewayAccess,
        { provide: APP_GUARD, useClass: ApiKeyGuard },
        FunctionAuthCache,
        InvocationProxy,
        AsyncAccept,
        PostedEventsRoute,
        ConsoleRoute,
        EventStreamService,
        GatewayHealth,
        InvokerDebugClient,
        DebugSocketRoute,
      ],
    };
  }
}
