import { DynamicModule, Inject, Injectable, Module, Provider } from '@nestjs/common';
import { ClientProxy, ClientProxyFactory, MicroserviceOptions, RmqContext, RmqOptions, RmqRecordBuilder, ServerRMQ, Transport } from '@nestjs/microservices';
import { context, propagation, ROOT_CONTEXT, Span, SpanKind, SpanStatusCode, trace } from '@opentelemetry/api';
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
  /** The span of each request being handled, by correlation id: ended when its reply goes out. */
  private readonly spans = new Map<string, Span>();

  /**
   * Each request or event continues the caller's trace: a SERVER (or CONSUMER) span, child of the `traceparent` in
   * the message's headers, active while the handler runs, so what it calls and queues joins the same trace.
   */
  override async handleMessage(message: RmqMessage, channel: unknown): Promise<void> {
    if (!message) return super.handleMessage(message, channel);
    const { properties } = message;
    const pattern = patternOf(message.content);
    const parent = propagation.extract(ROOT_CONTEXT, properties?.headers ?? {});
    const request = !!properties?.replyTo && !!properties.correlationId;
    const span = trace
      .getTracer('hks')
      .startSpan(
        `rpc ${pattern}`,
        { kind: request ? SpanKind.SERVER : SpanKind.CONSUMER, attributes: { 'rpc.system': 'rabbitmq', 'rpc.method': pattern } },
        parent,
      );
    if (request) {
      const id = properties.correlationId as string;
      this.spans.set(id, span);
      // A handler that never answers must not keep its span for ever: it ends when the caller has long given up.
      setTimeout(() => {
        if (this.spans.get(id) !== span) return;
        this.spans.delete(id);
        span.setStatus({ code: SpanStatusCode.ERROR, message: 'no reply was sent' });
        span.end();
      }, UNANSWERED_SPAN_MS).unref();
    }
    try {
      await context.with(trace.setSpan(parent, span), () => super.handleMessage(message, channel));
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw err;
    } finally {
      // An event has no reply; a request whose handler threw before answering does not get one either.
      if (!request) span.end();
    }
  }

  override sendMessage<T = unknown>(message: T, replyTo: string, correlationId: string, context: RmqContext): void {
    const span = this.spans.get(correlationId);
    if (span) {
      this.spans.delete(correlationId);
      const err = (message as { err?: { message?: string } | string } | null)?.err;
      if (err) span.setStatus({ code: SpanStatusCode.ERROR, message: typeof err === 'string' ? err : String(err.message ?? 'error') });
      span.end();
    }
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

/** How long a request's span waits for its reply (RPC callers give up after seconds). */
const UNANSWERED_SPAN_MS = 10 * 60_000;

interface RmqMessage {
  content: Buffer;
  properties?: { replyTo?: string; correlationId?: string; headers?: Record<string, unknown> };
}

/** The pattern of a request, for its span's name: Nest's packets are {pattern, data, id}. */
function patternOf(content: Buffer): string {
  try {
    const pattern = (JSON.parse(content.toString('utf8')) as { pattern?: unknown }).pattern;
    return typeof pattern === 'string' ? pattern : JSON.stringify(pattern);
  } catch {
    return 'unknown';
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
    // A CLIENT span under whatever is active (the gateway's request, a build, ...); its traceparent goes in the
    // message's headers, where RpcServer continues the trace.
    const span = trace.getTracer('hks').startSpan(`rpc ${pattern}`, {
      kind: SpanKind.CLIENT,
      attributes: { 'rpc.system': 'rabbitmq', 'rpc.service': service, 'rpc.method': pattern },
    });
    const headers: Record<string, string> = {};
    propagation.inject(trace.setSpan(context.active(), span), headers);
    const message = Object.keys(headers).length ? new RmqRecordBuilder(payload ?? {}).setOptions({ headers }).build() : (payload ?? {});
    try {
      const answer = await firstValueFrom(client.send<T>(pattern, message).pipe(timeout(timeoutMs)));
      this.observer?.observe(service, pattern, (performance.now() - started) / 1000, 'ok');
      return answer;
    } catch (err) {
      this.observer?.observe(service, pattern, (performance.now() - started) / 1000, err instanceof TimeoutError ? 'timeout' : 'error');
      const failure = toDomainError(err, service, timeoutMs);
      // A domain answer (404, 409, ...) is the service doing its job; only a failure to answer marks the span.
      if (!(failure instanceof DomainError) || failure.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR, message: failure.message });
      throw failure;
    } finally {
      span.end();
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
