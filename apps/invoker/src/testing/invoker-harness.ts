import { Controller, INestApplication, Module } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { NestFactory } from '@nestjs/core';
import * as amqp from 'amqplib';
import type { AddressInfo } from 'net';
import {
  CLOUDEVENT_CONTENT_TYPE,
  DeploymentPatterns,
  DeploymentView,
  eventExchange,
  fromCloudEvent,
  FunctionPatterns,
  functionUrl,
  InvokerDeployment,
  NotFoundError,
  PlatformEvent,
  routingKeyOf,
  toCloudEvent,
} from '@platform/contracts';
import { CommonSettingsValues, InternalCredential, SETTINGS, SettingsModule } from '@platform/config';
import { HttpErrorFilter, MessagingModule, RpcErrorFilter, rpcServerOptions } from '@platform/messaging';
import { isolatedEnv, waitFor } from '@platform/testing';
import { AppModule } from '../app.module';
import { mountInvocations } from '../invocations/mount';
import { TestFunction, writeBundle, runtimeSpec } from './bundles';
import type { FunctionConfigDto, RuntimeFamily } from '@platform/contracts';

/** Events received from the real RabbitMQ, on the test's own namespace. */
export class EventTap {
  readonly events: PlatformEvent[] = [];
  private channel!: amqp.Channel;
  private constructor(
    private readonly conn: amqp.ChannelModel,
    private readonly exchange: string,
  ) {}

  static async open(url: string, namespace: string, bindings = ['invocation.*.*']): Promise<EventTap> {
    const conn = await amqp.connect(url);
    const exchange = eventExchange(namespace);
    const tap = new EventTap(conn, exchange);
    const ch = await conn.createChannel();
    tap.channel = ch;
    await ch.assertExchange(exchange, 'topic', { durable: true });
    const q = await ch.assertQueue('', { exclusive: true, autoDelete: true });
    for (const b of bindings) await ch.bindQueue(q.queue, exchange, b);
    await ch.consume(q.queue, (msg) => msg && tap.events.push(fromCloudEvent(JSON.parse(msg.content.toString('utf8')))), { noAck: true });
    return tap;
  }

  /**
   * The result event of one invocation, and its PENDING event when it had one (an invocation that ran past
   * INVOKER_PENDING_EVENT_AFTER_MS): published before the result on the same channel, so here by then.
   */
  async invocation(invocationId: string): Promise<{ pending?: PlatformEvent; result: PlatformEvent }> {
    const result = await waitFor(() => this.events.find((e) => e.invocationId === invocationId && e.status !== 'PENDING'), {
      timeoutMs: 15_000,
      what: `the result event of invocation ${invocationId}`,
    });
    return { pending: this.events.find((e) => e.invocationId === invocationId && e.status === 'PENDING'), result };
  }

  /** Every event received for one invocation, in the order received. */
  eventsOf(invocationId: string): PlatformEvent[] {
    return this.events.filter((e) => e.invocationId === invocationId);
  }

  /** Publishes an event the way the other services do (for the invoker's subscriptions). */
  publish(event: PlatformEvent): void {
    this.channel.publish(this.exchange, routingKeyOf(event), Buffer.from(JSON.stringify(toCloudEvent(event))), { contentType: CLOUDEVENT_CONTENT_TYPE });
  }

  close(): Promise<void> {
    return this.conn.close();
  }
}

/** Stands in for the deployer and the registry on RPC: answers from what the test put in. */
export class PlatformDirectory {
  readonly functions = new Map<string, { id: string; label: string }>();
  readonly deployments = new Map<string, InvokerDeployment>();

  find<T extends { id: string; label: string }>(map: Map<string, T>, key: string): T | undefined {
    return map.get(key) ?? [...map.values()].find((v) => v.label === key);
  }
}

function directoryController(dir: PlatformDirectory) {
  @Controller()
  class DirectoryController {
    @MessagePattern(DeploymentPatterns.GetForFunction)
    get(@Payload() p: { functionId: string }) {
      const d = [...dir.deployments.values()].find((v) => v.functionId === p.functionId || v.spec.label === p.functionId);
      if (!d) throw new NotFoundError(`function ${p.functionId} is not deployed`);
      return d;
    }

    @MessagePattern(DeploymentPatterns.ListActive)
    list() {
      return [...dir.deployments.values()].filter((d) => d.status === 'READY');
    }

    @MessagePattern(FunctionPatterns.Resolve)
    resolve(@Payload() p: { id: string }) {
      const fn = dir.find(dir.functions, p.id);
      if (!fn) throw new NotFoundError(`function ${p.id} does not exist`);
      return fn;
    }
  }
  return DirectoryController;
}

export interface InvokerHarness {
  url: string;
  env: Record<string, string>;
  dataDir: string;
  app: INestApplication;
  tap: EventTap;
  directory: PlatformDirectory;
  /** Writes a bundle and PUTs the deployment; resolves with the spec once the invoker answered 200. */
  /** `secrets`: env variables sent as secret values, as the deployer does for a function's secrets. */
  deploy(o: {
    label: string;
    family: RuntimeFamily;
    entrypoint: string;
    files: Record<string, string | Buffer>;
    config?: FunctionConfigDto;
    secrets?: Record<string, string>;
    /** The runtime as the function names it (python3.9) and the exact version the registry resolved it to. */
    runtime?: string;
    runtimeVersion?: string;
  }): Promise<TestFunction>;
  /** `json`: the body parsed (undefined when it is not JSON), by default as an object whose fields a test reads. */
  request<T = Record<string, unknown>>(
    method: string,
    path: string,
    body?: string | Buffer,
    headers?: Record<string, string>,
  ): Promise<{ status: number; headers: Headers; body: Buffer; text: string; json: T }>;
  close(): Promise<void>;
}

/** A deployment as the deployer answers GetForFunction / ListActive. */
export function deploymentView(
  fn: TestFunction,
  o: { env?: Record<string, string>; driver?: 'local' | 'knative'; endpoint?: string | null; status?: DeploymentView['status'] } = {},
): InvokerDeployment {
  const now = new Date().toISOString();
  return {
    id: fn.deploymentId,
    functionId: fn.spec.functionId,
    label: fn.spec.label,
    version: fn.spec.version,
    driver: o.driver ?? 'local',
    status: o.status ?? 'READY',
    bundleDigest: fn.spec.bundleDigest,
    image: null,
    endpoint: o.endpoint ?? null,
    reason: null,
    spec: fn.spec,
    env: o.env ?? {},
    createdAt: now,
    updatedAt: now,
  };
}

/** A deployment as the deployer publishes it in deployment.* events (and answers users): no spec, env or endpoint. */
export function publicDeploymentView(fn: TestFunction): DeploymentView {
  const d = deploymentView(fn);
  return {
    id: d.id,
    functionId: d.functionId,
    label: d.label,
    version: d.version,
    driver: d.driver,
    status: d.status,
    bundleDigest: d.bundleDigest,
    image: d.image,
    url: functionUrl(d.label),
    reason: d.reason,
    createdAt: d.createdAt,
    updatedAt: d.updatedAt,
  };
}

/** The deployer's and the registry's RPC queues of a namespace, answered from `directory`. */
export async function serveDirectory(directory: PlatformDirectory, env: Record<string, string>): Promise<INestApplication> {
  @Module({ imports: [SettingsModule.forRoot({}, env), MessagingModule.forRoot('test-directory')], controllers: [directoryController(directory)] })
  class DirectoryModule {}
  const stubs = await NestFactory.create(DirectoryModule, { logger: false });
  stubs.useGlobalFilters(new RpcErrorFilter());
  const settings = stubs.get<CommonSettingsValues>(SETTINGS);
  stubs.connectMicroservice(rpcServerOptions(settings, 'deployer'), { inheritAppConfig: true });
  stubs.connectMicroservice(rpcServerOptions(settings, 'function-registry'), { inheritAppConfig: true });
  await stubs.startAllMicroservices();
  await stubs.init();
  return stubs;
}

/**
 * The invoker app on a free port, in its own namespace and data dir, with RPC stand-ins and an event
 * tap. `seed` runs before the invoker starts (deployments it should find with ListActive). `invokerEnv` is for the
 * invoker alone, not the stand-ins and the tap (say, its AMQP_URL through a TcpProxy that a test cuts).
 */
export async function startInvoker(
  extraEnv: Record<string, string> = {},
  seed?: (directory: PlatformDirectory, dataDir: string) => Promise<void>,
  { invokerEnv = {} }: { invokerEnv?: Record<string, string> } = {},
): Promise<InvokerHarness> {
  // The stand-in deployer lists only what a test put in `directory`, not what it PUT to the invoker: a periodic resync
  // would take those away, so it runs only where a test asks for it (the resync at connect runs before any deploy).
  const iso = isolatedEnv({ RPC_TIMEOUT_MS: '5000', INVOKER_PREWARM: '1', INVOKER_RESYNC_INTERVAL_MS: '3600000', ...extraEnv });
  const directory = new PlatformDirectory();
  await seed?.(directory, iso.dataDir);
  const stubs = await serveDirectory(directory, iso.env);

  const tap = await EventTap.open(iso.env.AMQP_URL, iso.env.HKS_NAMESPACE);
  const app = await NestFactory.create(AppModule.forRoot({ ...iso.env, ...invokerEnv }), { logger: process.env.TEST_LOG_LEVEL ? undefined : false });
  app.enableShutdownHooks();
  app.useGlobalFilters(new HttpErrorFilter());
  mountInvocations(app);
  await app.listen(0, '127.0.0.1');
  const url = `http://127.0.0.1:${(app.getHttpServer().address() as AddressInfo).port}`;
  const credential = app.get(InternalCredential).header();

  const request: InvokerHarness['request'] = async <T>(method: string, path: string, body?: string | Buffer, headers: Record<string, string> = {}) => {
    // As the gateway and the deployer do: with the internal credential (a test may send another).
    const res = await fetch(url + path, { method, body, headers: { ...credential, ...headers } });
    const bytes = Buffer.from(await res.arrayBuffer());
    const text = bytes.toString('utf8');
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: res.status, headers: res.headers, body: bytes, text, json: json as T };
  };

  return {
    url,
    env: iso.env,
    dataDir: iso.dataDir,
    app,
    tap,
    directory,
    request,
    async deploy(o) {
      const bundleDigest = await writeBundle(iso.dataDir, o.family, o.entrypoint, o.files);
      const fn = runtimeSpec({ label: o.label, family: o.family, entrypoint: o.entrypoint, bundleDigest, config: o.config });
      if (o.runtime) fn.spec.runtime = o.runtime;
      if (o.runtimeVersion) fn.spec.runtimeVersion = o.runtimeVersion;
      const res = await request(
        'PUT',
        `/deployments/${fn.spec.functionId}`,
        JSON.stringify({
          deploymentId: fn.deploymentId,
          spec: fn.spec,
          env: { ...(o.config?.env ?? {}), ...(o.secrets ?? {}) },
          secrets: Object.keys(o.secrets ?? {}),
        }),
        {
          'content-type': 'application/json',
        },
      );
      if (res.status !== 200) throw new Error(`deploying ${o.label} answered ${res.status}: ${res.text}`);
      directory.functions.set(fn.spec.functionId, { id: fn.spec.functionId, label: fn.spec.label });
      return fn;
    },
    async close() {
      await app.close();
      await stubs.close();
      await tap.close();
      iso.cleanup();
    },
  };
}
