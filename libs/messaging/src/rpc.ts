import { DynamicModule, Inject, Injectable, Module, Provider } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, MicroserviceOptions, RmqContext, RmqOptions, ServerRMQ, Transport } from '@nestjs/microservices';
import { performance } from 'perf_hooks';
import { firstValueFrom, timeout, TimeoutError } from 'rxjs';
import { DomainError, isErrorBody, rpcClientToken, rpcQueue, RpcService, UnavailableError } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { LOW_LATENCY_SOCKET } from './amqp-connection';

/**
 * Nest's RabbitMQ server with one change: its replies go out on a confirm channel and Nest drops the promise of each,
 * so a reply still unconfirmed when the broker connection drops rejected with nobody listening, and that unhandled
 * rejection ended the whole process (seen under RabbitMQ cuts). Here such a reply is logged: the caller's RPC times
 * out and it retries, as for any lost answer.
 */
export class RpcServer extends ServerRMQ {
  override sendMessage<T = unknown>(message: T, replyTo: string, correlationId: string, context: RmqContext): void {
    const outgoing = this.serializer.serialize(message as never) as Record<string, unknown> & { options?: Record<string, unknown> };
    const options = outgoing.options;
    delete outgoing.options;
    const buffer = Buffer.from(JSON.stringify(outgoing));
    this.onProcessingEndHook?.(this.transportId, context);
    try {
      const sent = this.channel?.sendToQueue(replyTo, buffer, { correlationId, ...options });
      void Promise.resolve(sent).catch((err: Error) => this.logger.warn?.(`an RPC reply was lost with the broker connection: ${err.message}`));
    } catch (err) {
      this.logger.warn?.(`an RPC reply could not be sent: ${(err as Error).message}`);
    }
  }
}

/** Options a service passes to `app.connectMicroservice` to answer RPC on its queue. */
export function rpcServerOptions(settings: CommonSettingsValues, service: RpcService): MicroserviceOptions {
  return {
    strategy: new RpcServer({
      urls: [settings.AMQP_URL],
      queue: rpcQueue(settings.HKS_NAMESPACE, service),
      queueOptions: { durable: true },
      prefetchCount: 32,
      socketOptions: { connectionOptions: LOW_LATENCY_SOCKET },
      // Nest's RMQ server acks only when noAck is true; a request lost with a crashing server just times out.
      noAck: true,
    } as Required<RmqOptions>['options']),
  };
}

function rpcClientOptions(settings: CommonSettingsValues, service: RpcService): RmqOptions {
  return {
    transport: Transport.RMQ,
    options: {
      urls: [settings.AMQP_URL],
      queue: rpcQueue(settings.HKS_NAMESPACE, service),
      queueOptions: { durable: true },
      socketOptions: { connectionOptions: LOW_LATENCY_SOCKET },
    },
  };
}

/** Told how each RPC call went (the metrics module provides one: RPC latency by service, pattern and outcome). */
export interface RpcObserver {
  observe(service: RpcService, pattern: string, seconds: number, outcome: 'ok' | 'error' | 'timeout'): void;
}
export const RPC_OBSERVER = Symbol('RPC_OBSERVER');

/**
 * Calls another service and turns its answer back into a result or a DomainError carrying the
 * status and message the owning service chose.
 */
@Injectable()
export class RpcClient {
  constructor(
    private readonly clients: Map<RpcService, ClientProxy>,
    private readonly timeoutMs: number,
    private readonly observer?: RpcObserver,
  ) {}

  async call<T>(service: RpcService, pattern: string, payload: unknown, timeoutMs = this.timeoutMs): Promise<T> {
    const client = this.clients.get(service);
    if (!client) throw new Error(`no RPC client registered for ${service}`);
    const started = performance.now();
    try {
      const answer = await firstValueFrom(client.send<T>(pattern, payload ?? {}).pipe(timeout(timeoutMs)));
      this.observer?.observe(service, pattern, (performance.now() - started) / 1000, 'ok');
      return answer;
    } catch (err) {
      this.observer?.observe(service, pattern, (performance.now() - started) / 1000, err instanceof TimeoutError ? 'timeout' : 'error');
      throw toDomainError(err, service, timeoutMs);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.close()));
  }
}

const BROKER_DOWN = /connection lost|trying to reconnect|disconnected|connection closed|channel closed|not connected|ECONNREFUSED|ECONNRESET|socket closed/i;

export function toDomainError(err: unknown, service: string, timeoutMs: number): Error {
  if (err instanceof DomainError) return err;
  if (err instanceof TimeoutError) return new UnavailableError(`${service} did not answer within ${timeoutMs} ms; is it running?`);
  if (isErrorBody(err)) return new DomainError(err.statusCode, err.message, err.details);
  if (err && typeof err === 'object' && 'err' in err && (err as { err: unknown }).err) {
    const reason = String((err as { err: { message?: string } }).err.message ?? err);
    return new UnavailableError(`RabbitMQ is unavailable (${reason}); cannot reach ${service}`);
  }
  const message = err instanceof Error ? err.message : typeof err === 'string' ? err : JSON.stringify(err);
  // The RMQ client rejects with a bare string or Error while its connection to the broker is down.
  if (BROKER_DOWN.test(message)) return new UnavailableError(`RabbitMQ is unavailable (${message}); cannot reach ${service}`);
  return new DomainError(502, `${service} failed: ${message}`);
}

@Module({})
export class RpcClientsModule {
  /** Provides an `RpcClient` able to call the given services. */
  static register(services: RpcService[]): DynamicModule {
    const clientProviders: Provider[] = services.map((service) => ({
      provide: rpcClientToken(service),
      useFactory: (settings: CommonSettingsValues) => ClientProxyFactory.create(rpcClientOptions(settings, service)),
      inject: [SETTINGS],
    }));
    const rpcClient: Provider = {
      provide: RpcClient,
      useFactory: (settings: CommonSettingsValues, observer: RpcObserver | undefined, ...clients: ClientProxy[]) =>
        new RpcClient(new Map(services.map((s, i) => [s, clients[i]])), settings.RPC_TIMEOUT_MS, observer),
      inject: [SETTINGS, { token: RPC_OBSERVER, optional: true }, ...services.map((s) => rpcClientToken(s))],
    };
    return {
      module: RpcClientsModule,
      providers: [...clientProviders, rpcClient, RpcClientShutdown],
      exports: [RpcClient],
    };
  }
}

@Injectable()
class RpcClientShutdown {
  constructor(@Inject(RpcClient) private readonly client: RpcClient) {}
  async onApplicationShutdown(): Promise<void> {
    await this.client.close();
  }
}
