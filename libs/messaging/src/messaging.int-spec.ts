import { Controller, INestApplication, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { newEvent, NotFoundError, PlatformEvent, rpcClientToken } from '@platform/contracts';
import { SettingsModule, SETTINGS, CommonSettingsValues } from '@platform/config';
import { isolatedEnv, waitFor } from '@platform/testing';
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
      bindings: ['invocation.*'],
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

  it('delivers a batch published as one message per event name as separate events', async () => {
    const received: PlatformEvent[] = [];
    await server.get(EventSubscriber).subscribe({
      queue: 'test.batched',
      bindings: ['build.*'],
      batchSize: 10,
      batchWaitMs: 20,
      handler: (events) => {
        received.push(...events);
      },
    });
    const make = (name: string, i: number) =>
      newEvent({ name, type: 'FUNCTION_BUILD', status: name === 'build.started' ? 'PENDING' : 'SUCCESS', source: 'test', payload: { i } });
    const events = [make('build.started', 1), make('build.succeeded', 2), make('build.started', 3), make('build.started', 4)];
    await client.get(EventPublisher).publishMany(events);
    await waitFor(() => received.length >= 4, { what: '4 batched events' });
    expect(received.map((e) => e.id).sort()).toEqual(events.map((e) => e.id).sort());
  });

  it('exposes the RPC client token per service', () => {
    expect(rpcClientToken('function-registry')).toBe('RPC_CLIENT_FUNCTION_REGISTRY');
  });
});
