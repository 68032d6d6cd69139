import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ChannelWrapper } from 'amqp-connection-manager';
import { eventExchange, PlatformEvent } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { AmqpConnection } from './amqp-connection';

export interface SubscriptionOptions {
  /** Queue name without namespace; a durable queue shared by the service's replicas (competing consumers). */
  queue: string;
  /** Routing-key patterns, e.g. ["build.*"] or ["#"]. */
  bindings: string[];
  /** One private, auto-deleted queue per process (every replica sees every event), instead of a shared one. */
  broadcast?: boolean;
  /** Messages delivered but unacknowledged at once. */
  prefetch?: number;
  /** Largest batch handed to the handler. */
  batchSize?: number;
  /** How long a partial batch waits for more events. */
  batchWaitMs?: number;
  /** Called with a batch; the batch is acknowledged once it returns (an async handler: once it resolves). */
  handler: (events: PlatformEvent[]) => Promise<void> | void;
}

const RETRY_DELAY_MS = 1_000;

/**
 * Consumes events from the topic exchange. Messages are acknowledged only after the handler has
 * finished with them (for the event store: after the rows are committed), and requeued after a
 * pause when it fails. Malformed messages go to the dead-letter queue instead of being dropped.
 */
@Injectable()
export class EventSubscriber implements BeforeApplicationShutdown, OnApplicationShutdown {
  private readonly logger = new Logger(EventSubscriber.name);
  private readonly channels: ChannelWrapper[] = [];
  private readonly namespace: string;

  constructor(
    private readonly connection: AmqpConnection,
    @Inject(SETTINGS) settings: CommonSettingsValues,
  ) {
    this.namespace = settings.HKS_NAMESPACE;
  }

  async subscribe(options: SubscriptionOptions): Promise<void> {
    const exchange = eventExchange(this.namespace);
    const dlx = `${exchange}.dlx`;
    const prefetch = options.prefetch ?? Math.max(options.batchSize ?? 1, 10);
    const batchSize = options.batchSize ?? 1;
    const batchWaitMs = options.batchWaitMs ?? 0;
    let pending: ConsumeMessage[] = [];
    let timer: NodeJS.Timeout | undefined;
    let queueName = `${this.namespace}.${options.queue}`;

    const channel = this.connection.manager.createChannel({
      name: `subscriber:${options.queue}`,
      confirm: false,
      setup: async (ch: Channel) => {
        await ch.assertExchange(exchange, 'topic', { durable: true });
        await ch.assertExchange(dlx, 'fanout', { durable: true });
        await ch.assertQueue(`${exchange}.dead`, { durable: true });
        await ch.bindQueue(`${exchange}.dead`, dlx, '');
        if (options.broadcast) {
          const q = await ch.assertQueue('', { exclusive: true, autoDelete: true, arguments: { 'x-dead-letter-exchange': dlx } });
          queueName = q.queue;
        } else {
          await ch.assertQueue(queueName, { durable: true, arguments: { 'x-dead-letter-exchange': dlx } });
        }
        for (const key of options.bindings) await ch.bindQueue(queueName, exchange, key);
        await ch.prefetch(prefetch);
        pending = [];
        await ch.consume(queueName, (msg) => msg && onMessage(ch, msg), { noAck: false });
      },
    });
    this.channels.push(channel);

    const flush = async (ch: Channel) => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      // Never more than batchSize at once: amqplib may deliver a whole socket read between flushes.
      const batch = pending.splice(0, batchSize);
      if (pending.length && !timer) {
        timer = setTimeout(() => {
          chain = chain.then(() => flush(ch));
        }, 0);
      }
      if (!batch.length) return;
      const events: PlatformEvent[] = [];
      const good: ConsumeMessage[] = [];
      for (const msg of batch) {
        try {
          // A message holds one event, or an array of events of one name (EventPublisher.publishMany).
          const body = JSON.parse(msg.content.toString('utf8')) as PlatformEvent | PlatformEvent[];
          if (Array.isArray(body)) events.push(...body);
          else events.push(body);
          good.push(msg);
        } catch {
          this.logger.error(`malformed message on ${queueName}; sent to the dead-letter queue`);
          ch.nack(msg, false, false);
        }
      }
      if (!good.length) return;
      try {
        await options.handler(events);
        for (const msg of good) ch.ack(msg);
      } catch (err) {
        this.logger.warn(`handler for ${queueName} failed (${(err as Error).message}); retrying ${good.length} event(s)`);
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
        for (const msg of good) {
          try {
            ch.nack(msg, false, true);
          } catch {
            // The channel closed meanwhile: the broker redelivers unacknowledged messages anyway.
          }
        }
      }
    };

    let chain: Promise<void> = Promise.resolve();
    const onMessage = (ch: Channel, msg: ConsumeMessage) => {
      pending.push(msg);
      if (pending.length >= batchSize) {
        chain = chain.then(() => flush(ch));
      } else if (!timer) {
        timer = setTimeout(() => {
          chain = chain.then(() => flush(ch));
        }, batchWaitMs);
      }
    };

    await channel.waitForConnect();
  }

  /**
   * Channels close before the connection does: Nest runs the onApplicationShutdown hooks of one
   * module together, and a channel whose connection closes first never gets its CloseOk, so its
   * close() (and the app's shutdown) would hang.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const channels = this.channels.splice(0);
    await Promise.all(channels.map((c) => c.close()));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.beforeApplicationShutdown();
  }
}
