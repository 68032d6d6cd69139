import { Controller, INestApplication, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { randomUUID } from 'crypto';
import {
  BuildInput,
  BuildJobData,
  BuildPatterns,
  buildQueueName,
  BuildSource,
  BuildSourceQuery,
  buildSourceDigest,
  BuildView,
  bullPrefix,
  FunctionPatterns,
  NotFoundError,
  PlatformEvent,
} from '@platform/contracts';
import { effectiveConfigOf } from '@platform/runtimes';
import { CommonSettingsValues, InternalCredential, redisConnectionOptions, SettingsModule, SETTINGS } from '@platform/config';
import { EventSubscriber, MessagingModule, RpcClient, RpcClientsModule, RpcErrorFilter, rpcServerOptions } from '@platform/messaging';
import { createTestDatabase, isolatedEnv, waitFor } from '@platform/testing';
import { BuilderModule } from '../app.module';

/**
 * The builder as it runs (HTTP, RPC on RabbitMQ, BullMQ worker, Postgres) plus what a caller has:
 * a BullMQ queue to add build jobs to (like the registry), the registry's answer for a job's source, an RPC client
 * and a build.* subscriber.
 */
export interface BuilderHarness {
  app: INestApplication;
  url: string;
  /** The internal credential's header, as the invoker sends it to fetch a bundle. */
  credential: Record<string, string>;
  env: Record<string, string>;
  dataDir: string;
  rpc: RpcClient;
  events: PlatformEvent[];
  queue: Queue<BuildJobData>;
  /** Source the stand-in registry answers with, by `${functionId}@${version}`. */
  sources: Map<string, BuildSource>;
  /** Keeps the source, adds a build job naming it (as the registry does) and waits until the build is SUCCEEDED or FAILED. */
  build(job: Partial<BuildInput> & Pick<BuildInput, 'files'>): Promise<BuildView>;
  eventsOf(buildId: string): PlatformEvent[];
  close(): Promise<void>;
}

export async function startBuilder(extraEnv: Record<string, string> = {}): Promise<BuilderHarness> {
  const db = await createTestDatabase('hks_builder');
  const iso = isolatedEnv({ DATABASE_URL: db.url, ...extraEnv });
  try {
    return await start(db, iso);
  } catch (err) {
    await db.drop().catch(() => undefined);
    iso.cleanup();
    throw err;
  }
}

async function start(db: Awaited<ReturnType<typeof createTestDatabase>>, iso: ReturnType<typeof isolatedEnv>): Promise<BuilderHarness> {
  const moduleRef = await Test.createTestingModule({ imports: [BuilderModule.register(iso.env)] }).compile();
  const app = moduleRef.createNestApplication({ logger: false });
  app.enableShutdownHooks();
  app.useGlobalFilters(new RpcErrorFilter());
  app.connectMicroservice(rpcServerOptions(app.get<CommonSettingsValues>(SETTINGS), 'builder'), { inheritAppConfig: true });
  await app.startAllMicroservices();
  await app.listen(0, '127.0.0.1');
  const url = await app.getUrl();

  const sources = new Map<string, BuildSource>();
  @Controller()
  class RegistryStandIn {
    @MessagePattern(FunctionPatterns.GetBuildSource)
    source(@Payload() q: BuildSourceQuery): BuildSource {
      const found = sources.get(`${q.functionId}@${q.version}`);
      if (!found) throw new NotFoundError(`function ${q.functionId} has no version ${q.version}`);
      return found;
    }
  }
  @Module({
    imports: [SettingsModule.forRoot({}, iso.env), MessagingModule.forRoot('builder-test-client'), RpcClientsModule.register(['builder'])],
    controllers: [RegistryStandIn],
  })
  class ClientModule {}
  const clientRef = await Test.createTestingModule({ imports: [ClientModule] }).compile();
  const client = clientRef.createNestApplication({ logger: false });
  client.useGlobalFilters(new RpcErrorFilter());
  client.connectMicroservice(rpcServerOptions(client.get<CommonSettingsValues>(SETTINGS), 'function-registry'), { inheritAppConfig: true });
  await client.startAllMicroservices();
  await client.init();
  const events: PlatformEvent[] = [];
  await client.get(EventSubscriber).subscribe({
    queue: 'builder-test.builds',
    bindings: ['build.*.*'],
    // A private, auto-deleted queue: nothing is left on the broker after the test.
    broadcast: true,
    handler: (batch) => {
      events.push(...batch);
    },
  });

  const connection = new IORedis({ ...redisConnectionOptions(iso.env.REDIS_URL), maxRetriesPerRequest: null });
  const queue = new Queue<BuildJobData>(buildQueueName(), { connection, prefix: bullPrefix(iso.env.HKS_NAMESPACE) });
  const rpc = client.get(RpcClient);

  const build = async (job: Partial<BuildInput> & Pick<BuildInput, 'files'>): Promise<BuildView> => {
    const input: BuildInput = {
      buildId: randomUUID(),
      functionId: randomUUID(),
      label: 'fn',
      version: 1,
      template: 'node',
      runtime: 'node',
      family: 'node',
      entrypoint: 'handler.*',
      config: effectiveConfigOf({}, job.family ?? 'node'),
      requestedAt: new Date().toISOString(),
      sourceDigest: '',
      ...job,
    };
    const { buildId, functionId, label, version, requestedAt, template, runtime, family, files, entrypoint, config } = input;
    const source: BuildSource = { template, runtime, family, files, entrypoint, config };
    sources.set(`${functionId}@${version}`, source);
    const data: BuildJobData = { buildId, functionId, label, version, requestedAt, sourceDigest: job.sourceDigest ?? buildSourceDigest(source) };
    await queue.add('build', data, { jobId: data.buildId });
    // Waits for the result event (as the registry does), then reads the build once over RPC.
    await waitFor(
      () => events.some((e) => (e.name === 'build.succeeded' || e.name === 'build.failed') && (e.payload as { buildId?: string })?.buildId === data.buildId),
      { timeoutMs: 180_000, intervalMs: 100, what: `build ${data.buildId} to finish` },
    );
    return rpc.call<BuildView>('builder', BuildPatterns.Get, { buildId: data.buildId });
  };

  return {
    app,
    url,
    credential: app.get(InternalCredential).header(),
    env: iso.env,
    dataDir: iso.dataDir,
    rpc,
    events,
    queue,
    sources,
    build,
    eventsOf: (buildId) => events.filter((e) => (e.payload as { buildId?: string })?.buildId === buildId),
    close: async () => {
      // Every step runs even when one fails, so a broken test leaves no process, key or directory behind.
      const steps = [
        () => app.close(),
        () => queue.obliterate({ force: true }),
        () => queue.close(),
        () => connection.quit(),
        () => client.close(),
        () => db.drop(),
      ];
      const errors: unknown[] = [];
      for (const step of steps) await step().catch((err: unknown) => errors.push(err));
      iso.cleanup();
      if (errors.length) throw errors[0];
    },
  };
}
