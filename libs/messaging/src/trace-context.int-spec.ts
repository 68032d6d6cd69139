import { Controller, INestApplication, Module } from '@nestjs/common';
import { Ctx, MessagePattern, Payload, RmqContext } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { context, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import * as amqplib from 'amqplib';
import { randomUUID } from 'crypto';
import { eventExchange, newEvent } from '@platform/contracts';
import { SettingsModule, SETTINGS, CommonSettingsValues } from '@platform/config';
import { isolatedEnv, waitFor } from '@platform/testing';
import { EventPublisher } from './event-publisher';
import { MessagingModule } from './messaging.module';
import { RpcClient, RpcClientsModule, rpcServerOptions } from './rpc';
import { RpcErrorFilter } from './exception-filters';

@Controller()
class TracedController {
  /** Answers with the traceparent its request came with, and the one active while it runs. */
  @MessagePattern('traced.echo')
  echo(@Payload() p: { text: string }, @Ctx() ctx: RmqContext) {
    const headers = (ctx.getMessage() as { properties: { headers?: Record<string, unknown> } }).properties.headers ?? {};
    const active: Record<string, string> = {};
    propagation.inject(context.active(), active);
    return { heard: p.text, received: headers.traceparent ?? null, active: active.traceparent ?? null };
  }
}

/** W3C trace context over RabbitMQ: RPC requests carry the caller's span in their headers and the server continues it; so do events. */
describe('trace context over the real RabbitMQ', () => {
  const iso = isolatedEnv();
  const exporter = new InMemorySpanExporter();
  const provider = new NodeTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] });
  let server: INestApplication;
  let client: INestApplication;

  beforeAll(async () => {
    provider.register({ propagator: new W3CTraceContextPropagator() });
    @Module({ imports: [SettingsModule.forRoot({}, iso.env), MessagingModule.forRoot('test-server')], controllers: [TracedController] })
    class ServerModule {}
    @Module({ imports: [SettingsModule.forRoot({}, iso.env), MessagingModule.forRoot('test-client'), RpcClientsModule.register(['function-registry'])] })
    class ClientModule {}

    server = (await Test.createTestingModule({ imports: [ServerModule] }).compile()).createNestApplication({ logger: false });
    server.useGlobalFilters(new RpcErrorFilter());
    server.connectMicroservice(rpcServerOptions(server.get<CommonSettingsValues>(SETTINGS), 'function-registry'), { inheritAppConfig: true });
    await server.startAllMicroservices();
    await server.init();
    client = (await Test.createTestingModule({ imports: [ClientModule] }).compile()).createNestApplication({ logger: false });
    client.enableShutdownHooks();
    await client.init();
  }, 60_000);

  afterAll(async () => {
    await client?.close();
    await server?.close();
    await provider.shutdown();
    trace.disable();
    context.disable();
    propagation.disable();
    iso.cleanup();
  }, 60_000);

  it("sends the active span in an RPC request's headers, and the server's span is its child", async () => {
    const rpc = client.get(RpcClient);
    const caller = trace.getTracer('test').startSpan('caller');
    const answer = await context.with(trace.setSpan(context.active(), caller), () =>
      rpc.call<{ heard: string; received: string; active: string }>('function-registry', 'traced.echo', { text: 'hi' }),
    );
    caller.end();
    expect(answer.heard).toBe('hi');
    const { traceId } = caller.spanContext();
    await waitFor(() => exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId).length >= 3, { what: 'the three spans' });
    const spans = exporter.getFinishedSpans().filter((s) => s.spanContext().traceId === traceId);
    const clientSpan = spans.find((s) => s.name === 'rpc traced.echo' && s.kind === 2 /* CLIENT */)!;
    const serverSpan = spans.find((s) => s.name === 'rpc traced.echo' && s.kind === 1 /* SERVER */)!;
    expect(clientSpan.parentSpanContext?.spanId).toBe(caller.spanContext().spanId);
    expect(serverSpan.parentSpanContext?.spanId).toBe(clientSpan.spanContext().spanId);
    // On the wire: the client span's traceparent; in the handler: the server span, active.
    expect(answer.received).toBe(`00-${traceId}-${clientSpan.spanContext().spanId}-01`);
    expect(answer.active).toBe(`00-${traceId}-${serverSpan.spanContext().spanId}-01`);
  }, 30_000);

  it('starts a trace at the RPC call when no span is active, and the server continues it', async () => {
    const answer = await client.get(RpcClient).call<{ received: string | null; active: string | null }>('function-registry', 'traced.echo', { text: 'x' });
    expect(answer.received).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    expect(answer.active?.slice(3, 35)).toBe(answer.received?.slice(3, 35));
  }, 30_000);

  it("puts the publisher's active span in an event message's headers", async () => {
    const conn = await amqplib.connect(iso.env.AMQP_URL);
    try {
      const ch = await conn.createChannel();
      const exchange = eventExchange(iso.env.HKS_NAMESPACE);
      await ch.assertExchange(exchange, 'topic', { durable: true });
      const { queue } = await ch.assertQueue('', { exclusive: true });
      await ch.bindQueue(queue, exchange, 'build.#');
      const got: amqplib.ConsumeMessage[] = [];
      await ch.consume(queue, (m) => m && got.push(m), { noAck: true });

      const span = trace.getTracer('test').startSpan('publishing');
      const event = newEvent({
        name: 'build.started',
        type: 'FUNCTION_BUILD',
        status: 'PENDING',
        source: 'test',
        functionId: randomUUID(),
        functionLabel: 'fn-t',
      });
      await context.with(trace.setSpan(context.active(), span), () => client.get(EventPublisher).publish(event));
      span.end();
      await waitFor(() => got.length >= 1, { what: 'the event message' });
      expect(got[0].properties.headers?.traceparent).toBe(`00-${span.spanContext().traceId}-${span.spanContext().spanId}-01`);
    } finally {
      await conn.close();
    }
  }, 30_000);
});
