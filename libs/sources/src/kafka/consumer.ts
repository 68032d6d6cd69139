import { ConsumerConfig, Kafka, KafkaConfig, KafkaMessage, logLevel, ProducerRecord, SASLOptions } from 'kafkajs';
import { Backoff, batchSettings, messageEvents, reason, retryDelayOf, StopSignal } from '../batching';
import { consumerModule, PublisherConnections, ResultPublisher } from '../publishing';
import type { PublishContext, SourceConsumer, SourceContext, SourceEvent, SourceLogger, TopicMessage } from '../types';

/** The part of KafkaJS's eachBatch payload the consumer uses. */
export interface KafkaBatchPayload {
  batch: { topic: string; partition: number; messages: KafkaMessage[] };
  resolveOffset(offset: string): void;
  heartbeat(): Promise<void>;
  isRunning(): boolean;
  isStale(): boolean;
}

/** The part of a KafkaJS consumer the source uses (a fake one in the tests: there is no broker to test against). */
export interface KafkaConsumerClient {
  connect(): Promise<void>;
  subscribe(subscription: { topics: string[]; fromBeginning?: boolean }): Promise<void>;
  run(config: { autoCommit: boolean; eachBatchAutoResolve: boolean; eachBatch: (payload: KafkaBatchPayload) => Promise<void> }): Promise<void>;
  commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void>;
  stop(): Promise<void>;
  disconnect(): Promise<void>;
}

export interface KafkaProducerClient {
  connect(): Promise<void>;
  send(record: ProducerRecord): Promise<unknown>;
  disconnect(): Promise<void>;
}

export interface KafkaClient {
  consumer(config: ConsumerConfig): KafkaConsumerClient;
  producer(): KafkaProducerClient;
}

/** Makes a client for a broker configuration: KafkaJS's, or a fake one. */
export type KafkaClientFactory = (config: KafkaConfig) => KafkaClient;

export const kafkajsClient: KafkaClientFactory = (config) => new Kafka(config);

/** The consumer group: trigger.group, else one per namespace and trigger. */
export function kafkaGroup(trigger: Record<string, unknown>, ctx: Pick<SourceContext, 'namespace' | 'triggerKey'>): string {
  return typeof trigger.group === 'string' ? trigger.group : `${ctx.namespace}.${ctx.triggerKey}`;
}

function kafkaLogger(logger: SourceLogger | undefined) {
  return () =>
    ({ level, log }: { level: logLevel; log: { message: string } }) => {
      if (!logger) return;
      if (level <= logLevel.ERROR) logger.error(`kafka: ${log.message}`);
      else logger.warn(`kafka: ${log.message}`);
    };
}

/** The broker configuration of a trigger: brokers, TLS, SASL (user and password from the secret saslSecret). */
export async function kafkaConfig(
  trigger: Record<string, unknown>,
  clientId: string,
  secret: ((name: string) => Promise<Record<string, string>>) | undefined,
  logger?: SourceLogger,
): Promise<KafkaConfig> {
  const config: KafkaConfig = {
    clientId,
    brokers: trigger.brokers as string[],
    ssl: trigger.tls === true,
    logLevel: logLevel.WARN,
    logCreator: kafkaLogger(logger),
  };
  if (typeof trigger.saslMechanism === 'string') {
    const name = String(trigger.saslSecret);
    if (!secret) throw new Error(`kafka trigger saslSecret "${name}": no secrets here`);
    const s = await secret(name);
    if (!s.username || !s.password) throw new Error(`kafka trigger saslSecret "${name}" needs the keys username and password`);
    config.sasl = { mechanism: trigger.saslMechanism, username: s.username, password: s.password } as SASLOptions;
  }
  return config;
}

/** A Kafka message as the handler's event: id `{topic}:{partition}:{offset}`, the same when it is read again. */
export function kafkaEvents(topic: string, partition: number, m: KafkaMessage, ctx: SourceContext): SourceEvent[] {
  const key = m.key?.toString('utf8');
  const extensions: Record<string, string | number> = { kafkapartition: partition, kafkaoffset: m.offset };
  if (key !== undefined) extensions.kafkakey = key;
  const time = Number(m.timestamp);
  return messageEvents(
    {
      id: `${topic}:${partition}:${m.offset}`,
      kind: 'kafka',
      from: topic,
      subject: key,
      time: Number.isFinite(time) && time > 0 ? new Date(time) : undefined,
      headers: m.headers ?? {},
      body: m.value ?? Buffer.alloc(0),
      extensions,
    },
    ctx,
  );
}

/**
 * Consumes Kafka topics in a consumer group: each batch KafkaJS fetches is delivered batchSize messages at a
 * time, and a part's offsets are committed only once deliver accepted it. When deliver rejects, the partition
 * waits (heartbeats going on) and tries again; when the partition is taken away meanwhile (a rebalance) or the
 * consumer stops, nothing is committed and the next owner reads the messages again, under the same ids.
 */
export class KafkaConsumer implements SourceConsumer {
  private readonly stopSignal = new StopSignal();
  private consumer?: KafkaConsumerClient;

  constructor(
    private readonly ctx: SourceContext,
    private readonly clientFactory: KafkaClientFactory = kafkajsClient,
  ) {}

  private get topics(): string[] {
    return this.ctx.trigger.topics as string[];
  }

  private warn(message: string): void {
    this.ctx.logger.warn(`kafka trigger ${this.topics.join(',')} -> ${this.ctx.label}: ${message}`);
  }

  async start(): Promise<void> {
    const group = kafkaGroup(this.ctx.trigger, this.ctx);
    const what = `cannot consume Kafka topics ${this.topics.join(', ')} (group ${group}) at ${(this.ctx.trigger.brokers as string[]).join(', ')}`;
    const config = await kafkaConfig(this.ctx.trigger, `hks-${group}`, (n) => this.ctx.secret(n), this.ctx.logger);
    const { waitMs } = batchSettings(this.ctx.trigger);
    const consumer = this.clientFactory(config).consumer({ groupId: group, maxWaitTimeInMs: Math.max(waitMs, 1) });
    try {
      await consumer.connect();
      await consumer.subscribe({ topics: this.topics, fromBeginning: this.ctx.trigger.fromBeginning === true });
      await consumer.run({ autoCommit: false, eachBatchAutoResolve: false, eachBatch: (p) => this.eachBatch(consumer, p) });
    } catch (err) {
      this.stopSignal.stop();
      await consumer.disconnect().catch(() => undefined);
      throw new Error(`${what}: ${reason(err)}`);
    }
    this.consumer = consumer;
  }

  /** Handles one fetched batch of one partition. */
  private async eachBatch(consumer: KafkaConsumerClient, payload: KafkaBatchPayload): Promise<void> {
    const { topic, partition, messages } = payload.batch;
    const { size } = batchSettings(this.ctx.trigger);
    const gone = () => this.stopSignal.stopped || !payload.isRunning() || payload.isStale();
    for (let i = 0; i < messages.length; i += size) {
      if (gone()) return;
      const part = messages.slice(i, i + size);
      const events = part.flatMap((m) => kafkaEvents(topic, partition, m, this.ctx));
      const backoff = new Backoff(retryDelayOf(this.ctx));
      for (;;) {
        try {
          if (events.length) await this.ctx.deliver(events);
          break;
        } catch (err) {
          this.warn(`${part.length} message(s) of ${topic}/${partition} not accepted (${reason(err)}); trying again`);
          await this.stopSignal.sleep(backoff.delay());
          if (gone()) return;
          await payload.heartbeat();
        }
      }
      const last = part[part.length - 1].offset;
      payload.resolveOffset(last);
      try {
        await consumer.commitOffsets([{ topic, partition, offset: (BigInt(last) + 1n).toString() }]);
      } catch (err) {
        // Accepted all the same: read again they are the same invocations (same ids).
        this.warn(`offsets of ${topic}/${partition} up to ${last} not committed (${reason(err)})`);
      }
      await payload.heartbeat();
    }
  }

  /** Stops: a part being delivered finishes and is committed; the rest stays uncommitted for the group. */
  async stop(): Promise<void> {
    this.stopSignal.stop();
    const consumer = this.consumer;
    this.consumer = undefined;
    if (!consumer) return;
    await consumer.stop();
    await consumer.disconnect();
  }
}

/** Publishes results and errors to Kafka topics, the message key the event's id. */
export class KafkaPublisher implements ResultPublisher {
  private readonly producers = new PublisherConnections<KafkaProducerClient>((p) => p.disconnect());

  constructor(private readonly clientFactory: KafkaClientFactory = kafkajsClient) {}

  private async connect(trigger: Record<string, unknown>, ctx: PublishContext): Promise<KafkaProducerClient> {
    const producer = this.clientFactory(await kafkaConfig(trigger, 'hks-trigger-results', ctx.secret)).producer();
    await producer.connect();
    return producer;
  }

  async publish(trigger: Record<string, unknown>, topic: string, message: TopicMessage, ctx: PublishContext): Promise<void> {
    const key = JSON.stringify([trigger.brokers, trigger.tls, trigger.saslMechanism, trigger.saslSecret]);
    const producer = await this.producers.get(key, () => this.connect(trigger, ctx));
    await producer.send({
      topic,
      messages: [{ key: message.eventId ?? message.invocationId, value: JSON.stringify(message), headers: { 'content-type': 'application/json' } }],
    });
  }

  close(): Promise<void> {
    return this.producers.closeAll();
  }
}

export const sourceModule = consumerModule((ctx) => new KafkaConsumer(ctx), new KafkaPublisher());
