import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { SpanKind, SpanStatusCode } from '@opentelemetry/api';
import { Queue } from 'bullmq';
import IORedis from 'ioredis';
import { BuildJobData, buildQueueName, bullPrefix, UnavailableError } from '@platform/contracts';
import { redisConnectionOptions, SETTINGS } from '@platform/config';
import { traceparentOf, tracer } from '@platform/observability';
import { RegistrySettingsValues } from '../settings';

/**
 * The producer side of the BullMQ build queue. Redis commands fail fast (no offline queue) so a
 * build request never hangs on an unreachable Redis: it is answered 503 and rolled back instead.
 */
@Injectable()
export class BuildQueue implements OnApplicationShutdown {
  private readonly logger = new Logger(BuildQueue.name);
  private readonly redis: IORedis;
  private readonly queue: Queue<BuildJobData>;
  private readonly timeoutMs: number;
  private lastErrorLog = 0;

  constructor(@Inject(SETTINGS) settings: RegistrySettingsValues) {
    this.timeoutMs = settings.BUILD_QUEUE_TIMEOUT_MS;
    this.redis = new IORedis({ ...redisConnectionOptions(settings.REDIS_URL), enableOfflineQueue: false, maxRetriesPerRequest: 1 });
    this.redis.on('error', (err) => this.logThrottled(`Redis: ${err.message}`));
    this.queue = new Queue<BuildJobData>(buildQueueName(), { connection: this.redis, prefix: bullPrefix(settings.HKS_NAMESPACE) });
    this.queue.on('error', (err) => this.logThrottled(`build queue: ${err.message}`));
  }

  /** Adds the job named "build" with jobId = buildId; 503 when Redis cannot take it in time. */
  async add(data: BuildJobData): Promise<void> {
    // A PRODUCER span under the request that asked for the build; the job carries it to the builder's span.
    const span = tracer().startSpan('queue build', {
      kind: SpanKind.PRODUCER,
      attributes: { 'messaging.system': 'bullmq', 'messaging.destination.name': buildQueueName(), 'hks.build_id': data.buildId },
    });
    const traceparent = traceparentOf(span);
    try {
      await this.withTimeout(async () => {
        await this.ready();
        await this.queue.add('build', traceparent ? { ...data, traceparent } : data, {
          jobId: data.buildId,
          attempts: 1,
          removeOnComplete: { age: 7 * 24 * 3600, count: 1000 },
          removeOnFail: { age: 30 * 24 * 3600, count: 5000 },
        });
      });
    } catch (err) {
      span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error).message });
      throw new UnavailableError(`the build queue (Redis) is unreachable: ${(err as Error).message}; the build was not queued, try again`);
    } finally {
      span.end();
    }
  }

  async ping(): Promise<void> {
    await this.withTimeout(() => this.redis.ping());
  }

  /** Right after start the connection may still be opening: wait for it rather than fail at once. */
  private async ready(): Promise<void> {
    if (this.redis.status === 'ready') return;
    if (this.redis.status === 'wait') await this.redis.connect();
    await new Promise<void>((resolve, reject) => {
      const onReady = () => {
        cleanup();
        resolve();
      };
      const onEnd = () => {
        cleanup();
        reject(new Error('connection closed'));
      };
      const cleanup = () => {
        this.redis.off('ready', onReady);
        this.redis.off('end', onEnd);
      };
      this.redis.once('ready', onReady);
      this.redis.once('end', onEnd);
    });
  }

  private async withTimeout<T>(work: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        work(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  private logThrottled(message: string): void {
    if (Date.now() - this.lastErrorLog < 10_000) return;
    this.lastErrorLog = Date.now();
    this.logger.warn(message);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.queue.close().catch((err) => this.logger.warn(`closing the build queue: ${err.message}`));
    this.redis.disconnect();
  }
}
