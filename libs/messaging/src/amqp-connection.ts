import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import amqp, { AmqpConnectionManager } from 'amqp-connection-manager';
import { CommonSettingsValues, SETTINGS } from '@platform/config';

/**
 * TCP_NODELAY on every AMQP socket: a request or a reply is one small frame, and Nagle's algorithm held it back
 * until the broker's delayed ACK (tens of ms), which capped an RPC at one caller's round trip per ~25 ms.
 */
export const LOW_LATENCY_SOCKET = { noDelay: true };

/** One RabbitMQ connection per process, reconnecting on its own; channels are opened from it. */
@Injectable()
export class AmqpConnection implements OnApplicationShutdown {
  private readonly logger = new Logger(AmqpConnection.name);
  readonly manager: AmqpConnectionManager;

  constructor(@Inject(SETTINGS) settings: CommonSettingsValues) {
    this.manager = amqp.connect([settings.AMQP_URL], { heartbeatIntervalInSeconds: 10, reconnectTimeInSeconds: 1, connectionOptions: LOW_LATENCY_SOCKET });
    this.manager.on('disconnect', ({ err }) => this.logger.warn(`RabbitMQ disconnected: ${err?.message ?? 'closed'}`));
    this.manager.on('connectFailed', ({ err }) => this.logger.warn(`RabbitMQ connection failed: ${err?.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.manager.close();
  }
}
