import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { ChannelWrapper } from 'amqp-connection-manager';
import { eventExchange, fromCloudEvent, PlatformEvent } from '@platform/contracts';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { AmqpConnection } from './amqp-connection';

export interface SubscriptionOptions {
  /** Queue name without namespace; a durable queue shared by the service's replicas (competing consumers). */
  queue: string;
  /**
   * Routing-key patterns: `<event name>.<function label>` for the platform's events, `event.<type>.<label>`
   * for custom ones, `_` for no function; e.g. ["build.*.*"], ["invocation.*.my-fn"], ["event.#"] or ["#"].
   */
  bindings: string[];
  /**
   * Keys to unbind the queue from at every (re)connect: bindings of a durable queue outlive the process, so a key
   * a former version bound stays bound until it is removed.
   */
  unbind?: string[];
  /** One private, auto-deleted queue per process (every replica sees every event), instead of a shared one. */
  broadcast?: boolean;
  /** Messages delivered but unacknowledged at once. */
  prefetch?: number;
  /** Largest batch handed to the handler. */
  batchSize?: number;
  /** How long a partial batch waits for more events. */
  batchWaitMs?: number;
  /**
   * Batches in the handler at once (default 1). With 2, the next batch is read and handed over while
   * the previous one is still committing; batches are still acknowledged in delivery order.
   */
  concurrency?: number;
  /**
   * Called with a batch (each message's CloudEvent read back into a PlatformEvent); acknowledged once it returns
   * (an async handler: once it resolves).
   */
  handler: (events: PlatformEvent[]) => Promise<void> | void;
  /**
   * Called each time the subscription is (re)established: the first connect, and every reconnect after the broker
   * or the connection went away. A broadcast queue goes with its connection, so the events published meanwhile are
   * lost to it: a subscriber that keeps state from events re-reads it here. Called once the queue consumes again,
   * so nothing published after the call is missed; not awaited (a slow re-read does not hold the channel up).
   */
  onConnect?: () => void;
}

const RETRY_DELAY_MS = 1_000;

/** A running subscription whose routing keys can change (Subscription.rebind); every reconnect applies the current ones. */
export interface Subscription {
  /** Binds the queue to exactly these keys: binds the new ones, unbinds those no longer wanted. */
  rebind(keys: string[]): Promise<void>;
}

/** Acks and nacks on a channel that closed meanwhile throw; the broker redelivers unacknowledged messages anyway. */
function settle(op: () => void): void {
  try {
    op();
  } catch {
    // See above: nothing is lost, the messages come back on the next channel.
  }
}

/**
 * Consumes events from the topic exchange, one CloudEvent per message. Messages are acknowledged
 * only after the handler has finished with them (for the event store: after the rows are committed),
 * a batch with one `multiple` ack, and requeued after a pause when it fails. A message that is not a
 * valid CloudEvent goes to the dead-letter queue instead of being dropped.
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

  async subscribe(options: SubscriptionOptions): Promise<Subscription> {
    const exchange = eventExchange(this.namespace);
    const dlx = `${exchange}.dlx`;
    const prefetch = options.prefetch ?? Math.max(options.batchSize ?? 1, 10);
    const batchSize = options.batchSize ?? 1;
    const batchWaitMs = options.batchWaitMs ?? 0;
    const concurrency = Math.max(1, options.concurrency ?? 1);
    /** Batches handed to the handler and not yet settled, in delivery order. */
    const handling = new Set<Promise<void>>();
    let lastSettled: Promise<void> = Promise.resolve();
    let pending: ConsumeMessage[] = [];
    let timer: NodeJS.Timeout | undefined;
    let queueName = `${this.namespace}.${options.queue}`;
    let bound = new Set(options.bindings);
    const unbound = new Set((options.unbind ?? []).filter((k) => !bound.has(k)));
    /** The channel while connected, for rebind(). */
    let current: Channel | undefined;
    let rebinding: Promise<void> = Promise.resolve();

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
        for (const key of unbound) await ch.unbindQueue(queueName, exchange, key);
        for (const key of bound) await ch.bindQueue(queueName, exchange, key);
        current = ch;
        ch.once('close', () => {
          if (current === ch) current = undefined;
        });
        await ch.prefetch(prefetch);
        pending = [];
        await ch.consume(queueName, (msg) => msg && onMessage(ch, msg), { noAck: false });
        try {
          options.onConnect?.();
        } catch (err) {
          this.logger.error(`the connect hook of ${queueName} failed: ${(err as Error).message}`);
        }
      },
    });
    this.channels.push(channel);

    const flush = async (ch: Channel) => {
      if (timer) clearTimeout(timer);
      timer = undefined;
      // Never more than batchSize at once: amqplib may deliver a whole socket read between flushes.
      const batch = pending.splice(0, batchSize);
      if (pending.length && !timer) {
        timer = setTimeout(() => enqueue(ch), 0);
      }
      if (!batch.length) return;
      const events: PlatformEvent[] = [];
      const good: ConsumeMessage[] = [];
      for (const msg of batch) {
        try {
          events.push(fromCloudEvent(JSON.parse(msg.content.toString('utf8'))));
          good.push(msg);
        } catch (err) {
          this.logger.error(`malformed message on ${queueName} (${(err as Error).message}); sent to the dead-letter queue`);
          settle(() => ch.nack(msg, false, false));
        }
      }
      if (!good.length) return;
      // Through a promise, so that a handler that throws at once fails this batch and not the subscription.
      const handled = Promise.resolve(events)
        .then(options.handler)
        .then(
          () => undefined,
          (err: unknown) => err as Error,
        );
      const previous = lastSettled;
      const settled = (async () => {
        const failure = await handled;
        // Settled in delivery order: an ack with `multiple` must never cover a batch still in the handler.
        await previous;
        if (!failure) {
          // Every earlier delivery of this channel is settled by now, so one ack covers the whole batch.
          settle(() => ch.ack(good[good.length - 1], true));
          return;
        }
        this.logger.warn(`handler for ${queueName} failed (${failure.message}); retrying ${good.length} event(s)`);
        await new Promise((r) => setTimeout(r, RETRY_DELAY_MS));
        for (const msg of good) settle(() => ch.nack(msg, false, true));
      })();
      lastSettled = settled;
      handling.add(settled);
      void settled.then(() => handling.delete(settled));
      // The next flush waits while `concurrency` batches are in the handler.
      while (handling.size >= concurrency) await Promise.race(handling);
    };

    let chain: Promise<void> = Promise.resolve();
    // A flush that failed in an unforeseen way must not leave the chain rejected: every later batch would wait on it
    // and never be handled. Its messages stay unacknowledged, so the broker redelivers them after a reconnect.
    const enqueue = (ch: Channel) => {
      chain = chain.then(() => flush(ch)).catch((err: unknown) => this.logger.error(`a batch of ${queueName} could not be handled: ${(err as Error).message}`));
    };
    const onMessage = (ch: Channel, msg: ConsumeMessage) => {
      pending.push(msg);
      if (pending.length >= batchSize) {
        enqueue(ch);
      } else if (!timer) {
        timer = setTimeout(() => enqueue(ch), batchWaitMs);
      }
    };

    await channel.waitForConnect();

    const rebind = async (keys: string[]) => {
      const next = new Set(keys);
      const add = [...next].filter((k) => !bound.has(k));
      const remove = [...bound].filter((k) => !next.has(k));
      bound = next;
      for (const k of remove) unbound.add(k);
      for (const k of add) unbound.delete(k);
      // Not connected: the next setup applies them.
      const ch = current;
      if (!ch) return;
      for (const k of add) await ch.bindQueue(queueName, exchange, k);
      for (const k of remove) await ch.unbindQueue(queueName, exchange, k);
    };
    return {
      rebind: (keys) => {
        const next = rebinding.catch(() => undefined).then(() => rebind(keys));
        rebinding = next;
        return next;
      },
    };
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
