import { Inject, Injectable, Logger } from '@nestjs/common';
import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { ChannelWrapper } from 'amqp-connection-manager';
import { CommonSettingsValues, SETTINGS } from '@platform/config';
import { AmqpConnection } from '@platform/messaging';

/** What the work queue carries: only ids; the row is the record of truth. */
export interface DispatchMessage {
  id: string;
  functionId: string;
}

export type MessageHandler = (message: DispatchMessage) => Promise<'ack' | 'hold'>;

/** A publish that the broker did not confirm within this long is given up; the pump hands the id over again. */
const PUBLISH_TIMEOUT_MS = 5_000;

function workQueueName(namespace: string): string {
  return `${namespace}.invocations.async`;
}

/**
 * The RabbitMQ quorum queue `${namespace}.invocations.async`: durable, replicated, with publisher confirms, consumed
 * by every deployer (competing consumers); an unacknowledged message goes back to the queue when its consumer dies.
 */
@Injectable()
export class InvocationQueue {
  private readonly logger = new Logger(InvocationQueue.name);
  readonly name: string;
  private publisher?: ChannelWrapper;
  private consumer?: ChannelWrapper;

  constructor(
    private readonly amqp: AmqpConnection,
    @Inject(SETTINGS) settings: CommonSettingsValues,
  ) {
    this.name = workQueueName(settings.HKS_NAMESPACE);
  }

  private declare(ch: Channel): Promise<unknown> {
    return ch.assertQueue(this.name, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  }

  private publisherChannel(): ChannelWrapper {
    if (!this.publisher) {
      this.publisher = this.amqp.manager.createChannel({
        name: 'invocations-publisher',
        confirm: true,
        publishTimeout: PUBLISH_TIMEOUT_MS,
        setup: (ch: ConfirmChannel) => this.declare(ch),
      });
      this.publisher.on('error', (err: Error) => this.logger.warn(`work queue ${this.name} (publishing): ${err.message}`));
    }
    return this.publisher;
  }

  /** Resolves once the broker confirmed the message (persistent, on a quorum queue). */
  async publish(message: DispatchMessage): Promise<void> {
    await this.publisherChannel().sendToQueue(this.name, Buffer.from(JSON.stringify(message)), {
      persistent: true,
      contentType: 'application/json',
    });
  }

  /**
   * Consumes with at most `prefetch` unacknowledged messages; `handle` resolves when the message may be
   * acknowledged (its attempt is recorded), or with 'hold' when it must stay unacknowledged (the deployer is
   * stopping mid-attempt: the broker gives it to another one). A message it rejects is acknowledged: the row is the
   * truth, and the pump hands its id over again if it still waits.
   */
  async consume(prefetch: number, handle: MessageHandler): Promise<void> {
    this.consumer = this.amqp.manager.createChannel({
      name: 'invocations-consumer',
      confirm: false,
      setup: async (ch: Channel) => {
        await this.declare(ch);
        await ch.prefetch(prefetch);
        await ch.consume(this.name, (msg) => msg && void this.onMessage(ch, msg, handle), { noAck: false });
      },
    });
    // A setup the broker refuses (a queue of that name declared as a classic queue, say) is retried forever by the
    // channel: the first refusal stops the start-up with the broker's words instead.
    const consumer = this.consumer;
    // Always a listener: an 'error' without one would throw (e.g. the channel ending while the app closes).
    consumer.on('error', (err: Error) => this.logger.warn(`work queue ${this.name}: ${err.message}`));
    let onError!: (err: Error) => void;
    const refused = new Promise<never>((_, reject) => {
      onError = (err) => reject(new Error(`cannot consume the work queue "${this.name}": ${err.message}`));
      consumer.once('error', onError);
    });
    try {
      await Promise.race([consumer.waitForConnect(), refused]);
    } catch (err) {
      await this.stopConsuming();
      throw err;
    } finally {
      consumer.removeListener('error', onError);
    }
  }

  private async onMessage(ch: Channel, msg: ConsumeMessage, handle: MessageHandler): Promise<void> {
    let message: DispatchMessage | undefined;
    try {
      message = JSON.parse(msg.content.toString('utf8')) as DispatchMessage;
    } catch {
      this.logger.warn(`work queue ${this.name}: dropping a message that is not JSON`);
    }
    try {
      if (message?.id && (await handle(message)) === 'hold') return;
    } catch (err) {
      this.logger.error(`invocation ${message?.id}: ${(err as Error).message}`);
    }
    try {
      ch.ack(msg);
    } catch {
      // The channel closed meanwhile: the broker redelivers it, and the claim skips what is no longer queued.
    }
  }

  /** Stops taking new messages; those not acknowledged go back to the queue when the channel closes. */
  async stopConsuming(): Promise<void> {
    await this.consumer?.close();
    this.consumer = undefined;
  }

  async close(): Promise<void> {
    await this.stopConsuming();
    await this.publisher?.close();
    this.publisher = undefined;
  }
}
