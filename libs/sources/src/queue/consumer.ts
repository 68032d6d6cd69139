import type { Channel, ConsumeMessage } from 'amqplib';
import { AmqpConnectionManager, ChannelWrapper, connect } from 'amqp-connection-manager';
import { redactUrl } from '../fields';
import { batchSettings, Batcher, messageEvents, reason, retryDelayOf, StopSignal, withTimeout } from '../batching';
import { consumerModule, PublisherConnections, ResultPublisher } from '../publishing';
import type { PublishContext, SourceConsumer, SourceContext, SourceEvent, TopicMessage } from '../types';

const START_TIMEOUT_MS = 15_000;
const PUBLISH_TIMEOUT_MS = 10_000;

/** Where a queue trigger consumes: the broker, the queue, and what the queue is bound to. */
export interface QueueAddress {
  url: string;
  queue: string;
  bindings: { exchange: string; type: 'direct' | 'topic'; key: string; declare: 'always' | 'if-absent' }[];
}

/** The exchange of the platform's broker that routes to its queue triggers by their `source`. */
export const queuesExchange = (namespace: string) => `${namespace}.queues`;

/**
 * The platform's broker: queue `{namespace}.{source}`, bound to `{namespace}.queues` with routing key `{source}`.
 * Another broker (trigger.url): the queue named `source` as it is. Without `source` (exchange only), a queue
 * named after the trigger. With `exchange`, bound to it with `bindingKey` ("#" when absent).
 */
export function queueAddress(trigger: Record<string, unknown>, ctx: Pick<SourceContext, 'namespace' | 'platformAmqpUrl' | 'triggerKey'>): QueueAddress {
  const url = typeof trigger.url === 'string' ? trigger.url : ctx.platformAmqpUrl;
  const platform = typeof trigger.url !== 'string';
  const source = typeof trigger.source === 'string' ? trigger.source : undefined;
  const queue = source === undefined ? `${ctx.namespace}.${ctx.triggerKey}` : platform ? `${ctx.namespace}.${source}` : source;
  const bindings: QueueAddress['bindings'] = [];
  if (platform && source !== undefined) bindings.push({ exchange: queuesExchange(ctx.namespace), type: 'direct', key: source, declare: 'always' });
  if (typeof trigger.exchange === 'string') {
    bindings.push({ exchange: trigger.exchange, type: 'topic', key: typeof trigger.bindingKey === 'string' ? trigger.bindingKey : '#', declare: 'if-absent' });
  }
  return { url, queue, bindings };
}

interface Delivery {
  ch: Channel;
  msg: ConsumeMessage;
}

/** The event(s) of an AMQP message: its id is the message id when the publisher set one. */
function eventsOfMessage(msg: ConsumeMessage, queue: string, ctx: SourceContext): SourceEvent[] {
  const p = msg.properties;
  return messageEvents(
    {
      // Without a message id nothing identifies a message across redeliveries: a hash of its content would make
      // two equal messages one (the second lost), so such a message gets a fresh id each time it is delivered.
      id: typeof p.messageId === 'string' && p.messageId !== '' ? p.messageId : undefined,
      kind: 'queue',
      from: queue,
      subject: msg.fields.routingKey,
      time: typeof p.timestamp === 'number' ? new Date(p.timestamp * 1000) : undefined,
      contentType: typeof p.contentType === 'string' ? p.contentType : undefined,
      headers: p.headers ?? {},
      body: msg.content,
    },
    ctx,
  );
}

/** Declares `exchange` as a topic exchange unless it exists (of whatever type): checked on a channel of its own. */
async function ensureExchange(manager: AmqpConnectionManager, ch: Channel, exchange: string): Promise<void> {
  const model = manager.connection;
  if (!model) throw new Error('the connection closed');
  const probe = await model.createChannel();
  probe.on('error', () => undefined); // a 404 closes the probe channel: that is the answer
  try {
    await probe.checkExchange(exchange);
    await probe.close();
  } catch {
    await ch.assertExchange(exchange, 'topic', { durable: true });
  }
}

/**
 * Consumes a RabbitMQ queue: up to batchSize messages (or what came within maxBatchWaitMs of the first) are
 * delivered together, then acknowledged; when deliver rejects they go back on the queue after a pause.
 */
export class QueueConsumer implements SourceConsumer {
  readonly address: QueueAddress;
  private readonly batcher: Batcher<Delivery>;
  private readonly stopSignal = new StopSignal();
  private manager?: AmqpConnectionManager;
  private channel?: ChannelWrapper;
  private current?: { ch: Channel; consumerTag: string };

  constructor(private readonly ctx: SourceContext) {
    this.address = queueAddress(ctx.trigger, ctx);
    const settings = batchSettings(ctx.trigger);
    this.batcher = new Batcher(
      settings,
      (batch) => this.deliver(batch),
      (err) => this.warn(`a batch failed: ${reason(err)}`),
    );
  }

  private warn(message: string): void {
    this.ctx.logger.warn(`queue trigger ${this.address.queue} -> ${this.ctx.label}: ${message}`);
  }

  async start(): Promise<void> {
    const { url, queue } = this.address;
    const what = `cannot consume RabbitMQ queue "${queue}" at ${redactUrl(url)}`;
    const manager = connect([url], { heartbeatIntervalInSeconds: 10, reconnectTimeInSeconds: 1 });
    this.manager = manager;
    manager.on('disconnect', ({ err }: { err: Error }) => this.warn(`disconnected (${err?.message ?? 'closed'}); reconnecting`));
    const channel = manager.createChannel({ name: `queue-trigger:${this.ctx.functionId}:${queue}`, confirm: false, setup: (ch: Channel) => this.setup(ch) });
    this.channel = channel;
    // A setup the broker refuses (a queue declared with other arguments, no access) or a connection it refuses is
    // retried forever by the manager: report the first refusal instead of waiting for a connect that never comes.
    let onError!: (err: Error) => void;
    let onConnectFailed!: (arg: { err: Error }) => void;
    const refused = new Promise<never>((_, reject) => {
      onError = (err) => reject(new Error(`${what}: ${err.message}`));
      onConnectFailed = ({ err }) => reject(new Error(`${what}: ${err.message}`));
      channel.once('error', onError);
      manager.once('connectFailed', onConnectFailed);
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no channel within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    });
    try {
      await Promise.race([channel.waitForConnect(), refused, timedOut]);
    } catch (err) {
      this.stopSignal.stop();
      await channel.close().catch(() => undefined);
      await manager.close().catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
      channel.removeListener('error', onError);
      manager.removeListener('connectFailed', onConnectFailed);
    }
    channel.on('error', (err: Error) => this.warn(err.message));
  }

  private async setup(ch: Channel): Promise<void> {
    // After a reconnect the broker redelivers whatever was unacknowledged: the old channel's messages are void.
    this.batcher.takePending();
    const { queue, bindings } = this.address;
    await ch.assertQueue(queue, { durable: true });
    for (const b of bindings) {
      if (b.declare === 'always') await ch.assertExchange(b.exchange, b.type, { durable: true });
      else await ensureExchange(this.manager as AmqpConnectionManager, ch, b.exchange);
      await ch.bindQueue(queue, b.exchange, b.key);
    }
    // Room for the batch being delivered and the next one filling.
    await ch.prefetch(Math.min(2 * batchSettings(this.ctx.trigger).size, 65_535));
    const { consumerTag } = await ch.consume(queue, (msg) => msg && this.onMessage(ch, msg), { noAck: false });
    this.current = { ch, consumerTag };
  }

  private onMessage(ch: Channel, msg: ConsumeMessage): void {
    if (this.stopSignal.stopped) return putBack(ch, [msg]);
    this.batcher.add({ ch, msg });
  }

  private async deliver(batch: Delivery[]): Promise<void> {
    if (this.stopSignal.stopped)
      return putBack(
        batch[0].ch,
        batch.map((d) => d.msg),
      );
    const events = batch.flatMap((d) => eventsOfMessage(d.msg, this.address.queue, this.ctx));
    try {
      if (events.length) await this.ctx.deliver(events);
    } catch (err) {
      this.warn(`${batch.length} message(s) not accepted (${reason(err)}); they go back on the queue`);
      // A pause, so that a platform that cannot accept is not asked again at once (a stop cuts it short).
      await this.stopSignal.sleep(retryDelayOf(this.ctx));
      for (const d of batch) putBack(d.ch, [d.msg]);
      return;
    }
    for (const d of batch) {
      try {
        d.ch.ack(d.msg);
      } catch {
        // The channel closed meanwhile: the broker redelivers the message (the same message id, where it has one).
      }
    }
  }

  /** Stops consuming: the batch being delivered finishes and is acknowledged; the others go back on the queue. */
  async stop(): Promise<void> {
    this.stopSignal.stop();
    const current = this.current;
    if (current) await current.ch.cancel(current.consumerTag).catch(() => undefined);
    const pending = this.batcher.takePending();
    for (const d of pending) putBack(d.ch, [d.msg]);
    await this.batcher.idle();
    await this.channel?.close().catch(() => undefined);
    await this.manager?.close().catch(() => undefined);
  }
}

function putBack(ch: Channel, messages: ConsumeMessage[]): void {
  for (const msg of messages) {
    try {
      ch.nack(msg, false, true);
    } catch {
      // The channel closed: the broker puts unacknowledged messages back anyway.
    }
  }
}

interface ResultChannel {
  manager: AmqpConnectionManager;
  channel: ChannelWrapper;
}

/** Publishes results and errors to queues (trigger.url's broker, or the platform's: `{namespace}.{topic}`). */
export class QueuePublisher implements ResultPublisher {
  private readonly managers = new PublisherConnections<ResultChannel>(async ({ manager, channel }) => {
    await channel.close().catch(() => undefined);
    await manager.close();
  });

  /** The manager reconnects on its own: it is opened at once, and each publish waits for its connection. */
  private open(url: string): Promise<ResultChannel> {
    const manager = connect([url], { heartbeatIntervalInSeconds: 10, reconnectTimeInSeconds: 1 });
    const channel = manager.createChannel({ name: 'queue-trigger-results', confirm: true, json: false });
    channel.on('error', () => undefined); // publish reports failures to its caller
    return Promise.resolve({ manager, channel });
  }

  async publish(trigger: Record<string, unknown>, topic: string, message: TopicMessage, ctx: PublishContext): Promise<void> {
    const url = typeof trigger.url === 'string' ? trigger.url : ctx.platformAmqpUrl;
    const queue = typeof trigger.url === 'string' ? topic : `${ctx.namespace}.${topic}`;
    const { channel } = await this.managers.get(url, () => this.open(url));
    await withTimeout(channel.waitForConnect(), PUBLISH_TIMEOUT_MS, `cannot publish to RabbitMQ queue "${queue}" at ${redactUrl(url)}: no connection`);
    await channel.assertQueue(queue, { durable: true });
    await channel.sendToQueue(queue, Buffer.from(JSON.stringify(message)), {
      persistent: true,
      contentType: 'application/json',
      messageId: `${message.invocationId}:${message.status}`,
      timeout: PUBLISH_TIMEOUT_MS,
    });
  }

  close(): Promise<void> {
    return this.managers.closeAll();
  }
}

export const sourceModule = consumerModule((ctx) => new QueueConsumer(ctx), new QueuePublisher());
