import { Controller, INestApplication, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import * as amqplib from 'amqplib';
import { randomUUID } from 'crypto';
import { eventExchange, newEvent, NotFoundError, PlatformEvent, rpcClientToken } from '@platform/contracts';
import { SettingsModule, SETTINGS, CommonSettingsValues } from '@platform/config';
import { isolatedEnv, TcpProxy, waitFor } from '@platform/testing';
import { AmqpConnection } from './amqp-connection';
import { EventPublisher } from './event-publisher';
import { EventSubscriber } from './event-subscriber';
import { MessagingModule } from './messaging.module';
import { RpcClient, RpcClientsModule, rpcServerOptions } from './rpc';
import { RpcErrorFilter } from './exception-filters';

@Controller()
class EchoController {
  @MessagePattern('echo.say')
  say(@Payload() p: { text: string }) {
    return { heard: p.text };
  }

  @MessagePattern('echo.missing')
  missing() {
    throw new NotFoundError('function 42 does not exist');
  }
}

describe('messaging over the real RabbitMQ', () => {
  const iso = isolatedEnv();
  let server: INestApplication;
  let client: INestApplication;

  beforeAll(async () => {
    @Module({ imports: [SettingsModule.forRoot({}, iso.env), MessagingModule.forRoot('test-server')], controllers: [EchoController] })
    class ServerModule {}
    @Module({ imports: [SettingsModule.forRoot({}, iso.env), MessagingModule.forRoot('test-client'), RpcClientsModule.register(['function-registry'])] })
    class ClientModule {}

    const serverRef = await Test.createTestingModule({ imports: [ServerModule] }).compile();
    server = serverRef.createNestApplication({ logger: false });
    server.useGlobalFilters(new RpcErrorFilter());
    server.connectMicroservice(rpcServerOptions(server.get<CommonSettingsValues>(SETTINGS), 'function-registry'), { inheritAppConfig: true });
    await server.startAllMicroservices();
    await server.init();

    const clientRef = await Test.createTestingModule({ imports: [ClientModule] }).compile();
    client = clientRef.createNestApplication({ logger: false });
    client.enableShutdownHooks();
    await client.init();
  });

  afterAll(async () => {
    await client?.close();
    await server?.close();
    iso.cleanup();
  });

  it('answers a request over RPC', async () => {
    const rpc = client.get(RpcClient);
    await expect(rpc.call('function-registry', 'echo.say', { text: 'hi' })).resolves.toEqual({ heard: 'hi' });
  });

  it('carries a domain error back with its status and message', async () => {
    const rpc = client.get(RpcClient);
    await expect(rpc.call('function-registry', 'echo.missing', {})).rejects.toMatchObject({
      statusCode: 404,
      message: 'function 42 does not exist',
    });
  });

  it('delivers published events to a subscriber in batches and acks them', async () => {
    const received: PlatformEvent[] = [];
    await server.get(EventSubscriber).subscribe({
      queue: 'test.events',
      bindings: ['invocation.*.*'],
      batchSize: 5,
      batchWaitMs: 50,
      handler: (events) => {
        received.push(...events);
      },
    });
    const publisher = client.get(EventPublisher);
    const events = Array.from({ length: 7 }, (_, i) =>
      newEvent({ name: 'invocation.succeeded', type: 'FUNCTION_INVOCATION', status: 'SUCCESS', source: 'test', payload: { i } }),
    );
    await Promise.all(events.map((e) => publisher.publish(e)));
    await publisher.publish(newEvent({ name: 'function.created', type: 'FUNCTION_CREATED', status: 'SUCCESS', source: 'test' }));
    await waitFor(() => received.length >= 7, { what: '7 events' });
    expect(received.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
    expect(await publisher.spooled()).toBe(0);
  });

  it('rebinds a running subscription: the new keys are delivered, the dropped ones and those to unbind are not', async () => {
    const received: PlatformEvent[] = [];
    const custom = (type: string) => newEvent({ name: 'event.created', type, status: 'SUCCESS', source: 'test' });
    const publisher = client.get(EventPublisher);
    // A key a former version left bound to the durable queue.
    const exchange = eventExchange(iso.env.HKS_NAMESPACE);
    const conn = await amqplib.connect(iso.env.AMQP_URL);
    const ch = await conn.createChannel();
    await ch.assertExchange(exchange, 'topic', { durable: true });
    await ch.assertQueue(`${iso.env.HKS_NAMESPACE}.test.rebind`, { durable: true, arguments: { 'x-dead-letter-exchange': `${exchange}.dlx` } });
    await ch.bindQueue(`${iso.env.HKS_NAMESPACE}.test.rebind`, exchange, 'event.#');
    await conn.close();
    const subscription = await server.get(EventSubscriber).subscribe({
      queue: 'test.rebind',
      bindings: ['event.com.a.*'],
      unbind: ['event.#'],
      handler: (events) => {
        received.push(...events);
      },
    });
    const a = custom('com.a');
    const b = custom('com.b');
    await publisher.publishMany([a, b]);
    await waitFor(() => received.some((e) => e.id === a.id), { what: 'the com.a event' });
    await subscription.rebind(['event.com.b.*']);
    const a2 = custom('com.a');
    const b2 = custom('com.b');
    await publisher.publishMany([a2, b2]);
    await waitFor(() => received.some((e) => e.id === b2.id), { what: 'the second com.b event' });
    // Published before b2 on the same channel, so it would have arrived by now.
    const ids = received.map((e) => e.id);
    expect(ids).not.toContain(a2.id);
    expect(ids).not.toContain(b.id);
  });

  it('publishes a batch as one CloudEvent per message and sends what is not a CloudEvent to the dead-letter queue', async () => {
    const received: PlatformEvent[] = [];
    await server.get(EventSubscriber).subscribe({
      queue: 'test.batched',
      bindings: ['build.*.*'],
      batchSize: 10,
      batchWaitMs: 20,
      handler: (events) => {
        received.push(...events);
      },
    });
    const make = (name: string, i: number) =>
      newEvent({
        name,
        type: 'FUNCTION_BUILD',
        status: name === 'build.started' ? 'PENDING' : 'SUCCESS',
        source: 'test',
        payload: { i },
        functionId: randomUUID(),
        functionLabel: `fn-${i}`,
      });
    const events = [make('build.started', 1), make('build.succeeded', 2), make('build.started', 3), make('build.started', 4)];
    await client.get(EventPublisher).publishMany(events);
    await waitFor(() => received.length >= 4, { what: '4 published events' });
    expect(received.sort((x, y) => x.id.localeCompare(y.id))).toEqual(events.sort((x, y) => x.id.localeCompare(y.id)));

    // An array of events (the format before CloudEvents) and a PlatformEvent as such are refused.
    const conn = await amqplib.connect(iso.env.AMQP_URL);
    try {
      const ch = await conn.createConfirmChannel();
      const exchange = eventExchange(iso.env.HKS_NAMESPACE);
      const dead = `${exchange}.dead`;
      await ch.purgeQueue(dead);
      ch.publish(exchange, 'build.started.fn-5', Buffer.from(JSON.stringify([make('build.started', 5)])));
      ch.publish(exchange, 'build.started.fn-6', Buffer.from(JSON.stringify(make('build.started', 6))));
      await ch.waitForConfirms();
      await waitFor(async () => (await ch.checkQueue(dead)).messageCount === 2, { what: 'two dead-lettered messages' });
      expect(received).toHaveLength(4);
    } finally {
      await conn.close();
    }
  });

  it('with two batches in the handler at once, acknowledges them in order and redelivers only the one that failed', async () => {
    const handled: string[][] = [];
    let calls = 0;
    await server.get(EventSubscriber).subscribe({
      queue: 'test.concurrent',
      bindings: ['deployment.*.*'],
      batchSize: 3,
      batchWaitMs: 20,
      prefetch: 6,
      concurrency: 2,
      handler: async (events) => {
        const call = ++calls;
        // The first batch fails, and late: the second one, done first, must not acknowledge it with its `multiple` ack.
        if (call === 1) {
          await new Promise((r) => setTimeout(r, 300));
          throw new Error('the database is away');
        }
        handled.push(events.map((e) => e.id));
      },
    });
    const events = Array.from({ length: 6 }, (_, i) =>
      newEvent({ name: 'deployment.ready', type: 'FUNCTION_DEPLOYMENT', status: 'SUCCESS', source: 'test', payload: { i }, functionLabel: 'fn' }),
    );
    await client.get(EventPublisher).publishMany(events);
    await waitFor(() => handled.flat().length >= 6, { what: 'all six events handled', timeoutMs: 15_000 });
    await new Promise((r) => setTimeout(r, 1500));
    // Each event handled once: the failed batch came back, the acknowledged one did not.
    expect(handled.flat().sort()).toEqual(events.map((e) => e.id).sort());
  });

  it('calls onConnect at the first connect and again after each reconnect, once its new broadcast queue consumes', async () => {
    const broker = await TcpProxy.forUrl(iso.env.AMQP_URL).start();
    @Module({ imports: [SettingsModule.forRoot({}, { ...iso.env, AMQP_URL: broker.url }), MessagingModule.forRoot('test-reconnecting')] })
    class ReconnectingModule {}
    const app = (await Test.createTestingModule({ imports: [ReconnectingModule] }).compile()).createNestApplication({ logger: false });
    await app.init();
    try {
      const connects: number[] = [];
      const heard: string[] = [];
      const key = `reconnect-${randomUUID().slice(0, 8)}`;
      await app.get(EventSubscriber).subscribe({
        queue: 'test.reconnect',
        broadcast: true,
        bindings: [`function.created.${key}`],
        handler: (events) => void heard.push(...events.map((e) => e.id)),
        onConnect: () => void connects.push(Date.now()),
      });
      expect(connects).toHaveLength(1);
      broker.cut();
      await waitFor(() => !app.get(AmqpConnection).manager.isConnected(), { timeoutMs: 15_000, what: 'the subscriber to see the cut' });
      // Published while the subscriber is cut off: its broadcast queue went with its connection, so this one is lost to it.
      const lost = newEvent({ name: 'function.created', type: 'FUNCTION_CREATED', status: 'SUCCESS', source: 'test', functionLabel: key });
      await client.get(EventPublisher).publish(lost);
      broker.restore();
      await waitFor(() => connects.length === 2, { timeoutMs: 30_000, what: 'onConnect after the reconnect' });
      // From the hook on, the new queue hears what is published.
      const after = newEvent({ name: 'function.created', type: 'FUNCTION_CREATED', status: 'SUCCESS', source: 'test', functionLabel: key });
      await client.get(EventPublisher).publish(after);
      await waitFor(() => heard.includes(after.id), { timeoutMs: 15_000, what: 'the event published after the reconnect' });
      expect(heard).not.toContain(lost.id);
    } finally {
      await app.close();
      await broker.stop();
    }
  }, 60_000);

  it('exposes the RPC client token per service', () => {
    expect(rpcClientToken('function-registry')).toBe('RPC_CLIENT_FUNCTION_REGISTRY');
  });
});
