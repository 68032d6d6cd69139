import { INestApplication, Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { RpcService } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS, SettingsModule } from '@platform/config';
import { MessagingModule, RpcErrorFilter, rpcServerOptions } from '@platform/messaging';

/**
 * A stand-in for `service` in the gateway's tests: its RPC queue (in `env`'s namespace) answered by the given
 * controllers' @MessagePattern handlers, errors shaped as the real services shape them. Close it to stop it.
 */
export async function startRpcStandIn(env: NodeJS.ProcessEnv, service: RpcService, controllers: Type[]): Promise<INestApplication> {
  @Module({ imports: [SettingsModule.forRoot({}, env), MessagingModule.forRoot(`${service}-stand-in`)], controllers })
  class StandInModule {}
  const app = await NestFactory.create(StandInModule, { logger: false });
  app.useGlobalFilters(new RpcErrorFilter());
  app.connectMicroservice(rpcServerOptions(app.get<CommonSettingsValues>(SETTINGS), service), { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.init();
  return app;
}
