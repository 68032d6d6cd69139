import { ConsoleLogger, INestApplication, LogLevel, Module } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import amqplib from 'amqplib';
import IORedis from 'ioredis';
import { DEPLOY_RPC_TIMEOUT_MS, PlatformEvent, newEvent, EventNames } from '@platform/contracts';
import { CommonSettingsValues, redisConnectionOptions, SETTINGS, SettingsModule } from '@platform/config';
import { EventPublisher, EventSubscriber, MessagingModule, RpcClient, RpcClientsModule, RpcErrorFilter, rpcServerOptions } from '@platform/messaging';
import { createTestDatabase, isolatedEnv } from '@platform/testing';
import { AppModule } from '../src/app.module';
import { FakeInvoker } from './fake-invoker';
import { FakeKubeApi } from './fake-kube-api';
import { FakeRegistryController, FakeRegistryState } from './fake-registry';

/** The deployer logs errors only, unless TEST_DEPLOYER_LOGS=1. */
const LOG_LEVELS: LogLevel[] = process.env.TEST_DEPLOYER_LOGS ? ['fatal', 'error', 'warn', 'log', 'debug'] : ['fatal', 'error'];

/**
 * The deployer as a Nest app on real Postgres/RabbitMQ/Redis, with a real HTTP server for the invoker, a Nest RPC
 * stand-in for the registry, a fake Kubernetes API for the knative driver, and a client that calls RPC and
 * publishes/records events like the other services would.
 */
export class DeployerHarness {
  readonly invoker = new FakeInvoker();
  readonly kube = new FakeKubeApi();
  readonly registry = new FakeRegistryState();
  /** deployment.* events as published. */
  readonly events: PlatformEvent[] = [];
  env: Record<string, string> = {};
  deployer?: INestApplication;
  private iso?: ReturnType<typeof isolatedEnv>;
  private db?: Awaited<ReturnType<typeof createTestDatabase>>;
  private registryApp?: INestApplication;
  private client?: INestApplication;
  private readonly replicas: INestApplication[] = [];

  /** `databaseUrl` changes the deployer's DATABASE_URL (a test routing it through a TcpProxy to cut Postgres off). */
  async start(extraEnv: Record<string, string> = {}, { databaseUrl = (url: string) => url } = {}): Promise<void> {
    await Promise.all([this.invoker.start(), this.kube.start()]);
    this.db = await createTestDatabase('hks_deployer');
    this.iso = isolatedEnv({
      DATABASE_URL: databaseUrl(this.db.url),
      INVOKER_URL: this.invoker.url,
      HKS_INTERNAL_TOKEN: this.invoker.token,
      KNATIVE_READY_TIMEOUT_MS: '10000',
      TRIGGER_RETRY_DELAY_MS: '200',
      ...extraEnv,
    });
    this.iso.env.KUBECONFIG = this.kube.writeKubeconfig(this.iso.dataDir);
    this.env = this.iso.env;

    const state = this.registry;
    @Module({
      imports: [SettingsModule.forRoot({}, this.env)],
      controllers: [FakeRegistryController],
      providers: [{ provide: FakeRegistryState, useValue: state }],
    })
    class RegistryModule {}
    this.registryApp = (await Test.createTestingModule({ imports: [RegistryModule] }).compile()).createNestApplication({ logger: false });
    this.registryApp.useGlobalFilters(new RpcErrorFilter());
    this.registryApp.connectMicroservice(rpcServerOptions(this.registryApp.get<CommonSettingsValues>(SETTINGS), 'function-registry'), {
      inheritAppConfig: true,
    });
    await this.registryApp.startAllMicroservices();
    await this.registryApp.init();

    @Module({ imports: [SettingsModule.forRoot({}, this.env), MessagingModule.forRoot('test-client'), RpcClientsModule.register(['deployer'])] })
    class ClientModule {}
    this.client = (await Test.createTestingModule({ imports: [ClientModule] }).compile()).createNestApplication({ logger: false });
    this.client.enableShutdownHooks();
    await this.client.init();
    await this.client.get(EventSubscriber).subscribe({
      queue: 'test.deployment-events',
      bindings: ['deployment.*.*'],
      handler: (events) => {
        this.events.push(...events);
      },
    });

    await this.startDeployer();
  }

  async startDeployer(): Promise<void> {
    this.deployer = await this.createDeployer(this.env);
  }

  /**
   * Another deployer replica beside the first, on the same database, broker and namespace (`extraEnv` for its own
   * settings, say DEPLOYER_INSTANCE_ID); stopped by stop(), or by the test.
   */
  async startReplica(extraEnv: Record<string, string> = {}): Promise<INestApplication> {
    const app = await this.createDeployer({ ...this.env, ...extraEnv });
    this.replicas.push(app);
    return app;
  }

  private async createDeployer(env: Record<string, string>): Promise<INestApplication> {
    const ref = await Test.createTestingModule({ imports: [AppModule.forRoot(env)] }).compile();
    const app = ref.createNestApplication();
    // The testing module's own logger prints errors only; the deployer's warnings explain failures.
    app.useLogger(new ConsoleLogger({ logLevels: LOG_LEVELS }));
    app.useGlobalFilters(new RpcErrorFilter());
    app.enableShutdownHooks();
    app.connectMicroservice(rpcServerOptions(app.get<CommonSettingsValues>(SETTINGS), 'deployer'), { inheritAppConfig: true });
    try {
      await app.startAllMicroservices();
      await app.init();
    } catch (err) {
      // A deployer that refused to start leaves no connection open behind it.
      await app.close().catch(() => undefined);
      throw err;
    }
    return app;
  }

  async stopDeployer(): Promise<void> {
    await this.deployer?.close();
    this.deployer = undefined;
  }

  call<T>(pattern: string, payload: unknown): Promise<T> {
    return this.client!.get(RpcClient).call<T>('deployer', pattern, payload, DEPLOY_RPC_TIMEOUT_MS);
  }

  /** Publishes an event on the exchange as another service would. */
  publish(fields: Partial<PlatformEvent> & Pick<PlatformEvent, 'name' | 'type'>): Promise<void> {
    return this.client!.get(EventPublisher).publish(newEvent({ status: 'SUCCESS', source: 'test', ...fields }));
  }

  functionDeleted(functionId: string): Promise<void> {
    return this.publish({ name: EventNames.FunctionDeleted, type: 'FUNCTION_DELETED', functionId, payload: { id: functionId } });
  }

  eventsOf(functionId: string): string[] {
    return this.events.filter((e) => e.functionId === functionId).map((e) => e.name);
  }

  /** Stops everything and removes what the run left in RabbitMQ and Redis (`extraQueues`: trigger sources). */
  async stop(extraQueues: string[] = []): Promise<void> {
    await this.stopDeployer();
    for (const app of this.replicas.splice(0)) await app.close().catch(() => undefined);
    await this.client?.close();
    await this.registryApp?.close();
    await Promise.all([this.invoker.stop(), this.kube.stop()]);
    await this.db?.drop();
    if (this.iso) await removeNamespace(this.env, extraQueues);
    this.iso?.cleanup();
  }
}

async function removeNamespace(env: Record<string, string>, extraQueues: string[]): Promise<void> {
  const ns = env.HKS_NAMESPACE;
  const conn = await amqplib.connect(env.AMQP_URL);
  const ch = await conn.createChannel();
  const queues = [
    'rpc.deployer',
    'rpc.function-registry',
    'rpc.event-store',
    'deployer.functions',
    'deployer.event-triggers',
    'test.deployment-events',
    'events.dead',
    'invocations.async',
  ];
  for (const q of [...queues.map((q) => `${ns}.${q}`), ...extraQueues]) await ch.deleteQueue(q);
  for (const x of [`${ns}.events`, `${ns}.events.dlx`]) await ch.deleteExchange(x);
  await conn.close();
  const redis = new IORedis(redisConnectionOptions(env.REDIS_URL));
  const keys = await redis.keys(`${ns}:*`);
  if (keys.length) await redis.del(...keys);
  await redis.quit();
}
