import { Logger } from '@nestjs/common';
import type { Channel, ConsumeMessage } from 'amqplib';
import { AmqpConnectionManager, ChannelWrapper } from 'amqp-connection-manager';
import { QueueTrigger } from '@platform/contracts';
import { InvokerClient } from './invoker.client';

export const DEFAULT_BATCH_SIZE = 10;
export const DEFAULT_MAX_BATCH_WAIT_MS = 1_000;
const START_TIMEOUT_MS = 15_000;

export interface QueueConsumerOptions {
  functionId: string;
  label: string;
  trigger: QueueTrigger;
  invocationTimeoutMs: number;
  retryDelayMs: number;
}

/**
 * Consumes one RabbitMQ queue for one function: up to batchSize messages (or what arrived within maxBatchWaitMs)
 * become one invocation with {"data": [messages]}. They are acknowledged after the invocation succeeded, and
 * put back on the queue after a pause when it failed, so no message is lost.
 */
export class QueueConsumer {
  private readonly logger = new Logger(QueueConsumer.name);
  private readonly batchSize: number;
  private readonly waitMs: number;
  private channel?: ChannelWrapper;
  private pending: ConsumeMessage[] = [];
  private timer?: NodeJS.Timeout;
  private chain: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly manager: AmqpConnectionManager,
    private readonly invoker: InvokerClient,
    readonly options: QueueConsumerOptions,
  ) {
    this.batchSize = options.trigger.batchSize ?? DEFAULT_BATCH_SIZE;
    this.waitMs = options.trigger.maxBatchWaitMs ?? DEFAULT_MAX_BATCH_WAIT_MS;
  }

  async start(): Promise<void> {
    const source = this.options.trigger.source ?? '';
    this.channel = this.manager.createChannel({
      name: `queue-trigger:${this.options.functionId}:${source}`,
      confirm: false,
      setup: async (ch: Channel) => {
        // After a reconnect the broker redelivers whatever was unacknowledged: forget the old channel's messages.
        this.clearPending();
        await ch.assertQueue(source, { durable: true });
        // Never more unacknowledged messages than one batch: a batch is complete or waits for its time limit.
        await ch.prefetch(this.batchSize);
        await ch.consume(source, (msg) => msg && this.onMessage(ch, msg), { noAck: false });
      },
    });
    // A setup the broker refuses (e.g. a queue of that name declared with other arguments) is retried forever by
    // the channel: report the first refusal instead of waiting for a connect that never comes.
    const channel = this.channel;
    let onError!: (err: Error) => void;
    const refused = new Promise<never>((_, reject) => {
      onError = (err) => reject(new Error(`cannot consume RabbitMQ queue "${source}": ${err.message}`));
      channel.once('error', onError);
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`cannot consume RabbitMQ queue "${source}": no channel within ${START_TIMEOUT_MS} ms`)), START_TIMEOUT_MS);
    });
    try {
      await Promise.race([channel.waitForConnect(), refused, timedOut]);
    } catch (err) {
      this.stopped = true;
      await channel.close().catch(() => undefined);
      throw err;
    } finally {
      clearTimeout(timer);
      channel.removeListener('error', onError);
      channel.on('error', (err: Error) => this.logger.warn(`queue trigger ${source} -> ${this.options.label}: ${err.message}`));
    }
  }

  private onMessage(ch: Channel, msg: ConsumeMessage): void {
    if (this.stopped) return;
    this.pending.push(msg);
    if (this.pending.length >= this.batchSize) this.flush(ch);
    else if (!this.timer) this.timer = setTimeout(() => this.flush(ch), this.waitMs);
  }

  private flush(ch: Channel): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const batch = this.pending;
    this.pending = [];
    if (batch.length) this.chain = this.chain.then(() => this.deliver(ch, batch));
  }

  private async deliver(ch: Channel, batch: ConsumeMessage[]): Promise<void> {
    const { functionId, label, invocationTimeoutMs, retryDelayMs } = this.options;
    const outcome = await this.invoker.invoke(functionId, batch.map(decode), 'queue', invocationTimeoutMs);
    if (!outcome.ok) {
      this.logger.warn(
        `queue trigger ${this.options.trigger.source} -> ${label}: invocation failed (${outcome.status || 'no answer'}: ${outcome.message}); ` +
          `${batch.length} message(s) go back on the queue`,
      );
      await new Promise((r) => setTimeout(r, retryDelayMs));
    }
    for (const msg of batch) {
      try {
        if (outcome.ok) ch.ack(msg);
        else ch.nack(msg, false, true);
      } catch {
        // The channel closed meanwhile: the broker redelivers unacknowledged messages anyway.
      }
    }
  }

  private clearPending(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.pending = [];
  }

  /** Stops consuming; a batch being invoked finishes first, messages not yet in a batch return to the queue. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.clearPending();
    await this.chain;
    await this.channel?.close();
  }
}

/** A message body as the handler sees it: parsed JSON when it is JSON, the text otherwise. */
export function decode(msg: ConsumeMessage): unknown {
  const text = msg.content.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
