import { INestApplication, Logger } from '@nestjs/common';
import { IEntryNestModule, NestFactory } from '@nestjs/core';
import { RpcService } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { HttpErrorFilter, registerDependencies, rpcServerOptions } from '@platform/messaging';
import { LogContexts } from './logging/log-context';
import { platformLogger } from './logging/platform-logger';
import { flushTracing, startTracing } from './tracing/tracing';

export { platformLogger } from './logging/platform-logger';

export interface StartOptions {
  service: string;
  /** The app's root module (class or dynamic module), as NestFactory.create takes it. */
  module: IEntryNestModule;
  /** HTTP port (health endpoints, and the API for gateway/invoker). */
  port: number;
  host?: string;
  /** The RPC queue this service answers, if any. */
  rpc?: RpcService;
  configure?: (app: INestApplication) => void | Promise<void>;
}

/** Boots one service: HTTP (health, API), RPC consumer, graceful shutdown on SIGTERM. */
export function startService(o: StartOptions): Promise<INestApplication> {
  // Everything the service creates while it starts (servers, connections, timers) keeps its name for the logs.
  return LogContexts.run({ service: o.service }, () => start(o));
}

async function start(o: StartOptions): Promise<INestApplication> {
  startTracing(o.service);
  const app = await NestFactory.create(o.module, { logger: platformLogger(o.service), bufferLogs: false });
  app.enableShutdownHooks();
  const settings = app.get<CommonSettingsValues>(SETTINGS);
  exitAfterGrace(o.service, settings.SHUTDOWN_GRACE_MS);
  registerDependencies({ Postgres: settings.DATABASE_URL, RabbitMQ: settings.AMQP_URL, Redis: settings.REDIS_URL });
  app.useGlobalFilters(new HttpErrorFilter());
  if (o.configure) await o.configure(app);
  if (o.rpc) {
    app.connectMicroservice(rpcServerOptions(settings, o.rpc), { inheritAppConfig: true });
    await app.startAllMicroservices();
  }
  await app.listen(o.port, o.host ?? process.env.HOST ?? '127.0.0.1');
  return app;
}

/**
 * Nest's shutdown hooks drain the service on SIGTERM (HTTP server, RPC consumer, event publisher); a hook stuck on a
 * dependency that is gone must not hold the process past its grace period, so a watchdog ends it at the deadline.
 */
function exitAfterGrace(service: string, graceMs: number): void {
  const logger = new Logger('Shutdown');
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      // The spans still batched go out while the service drains.
      void flushTracing().catch((err: Error) => logger.warn(`could not export the last spans: ${err.message}`));
      setTimeout(() => {
        logger.error(`${service} did not finish draining within SHUTDOWN_GRACE_MS=${graceMs} ms of ${signal}; exiting now`);
        process.exit(1);
      }, graceMs).unref();
    });
  }
}
