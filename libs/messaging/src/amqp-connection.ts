import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import amqp, { AmqpConnectionManager } from 'amqp-connection-manager';
import { CommonSettingsValues, SETTINGS } from '@platform/config';

/** One RabbitMQ connection per process, reconnecting on its own; channels are opened from it. */
@Injectable()
export class AmqpConnection implements OnApplicationShutdown {
  private readonly logger = new Logger(AmqpConnection.name);
  readonly manager: AmqpConnectionManager;

  constructor(@Inject(SETTINGS) settings: CommonSettingsValues) {
    this.manager = amqp.connect([settings.AMQP_URL], { heartbeatIntervalInSeconds: 10, reconnectTimeInSeconds: 1 });
    this.manager.on('disconnect', ({ err }) => this.logger.warn(`RabbitMQ disconnected: ${err?.message ?? 'closed'}`));
    this.manager.on('connectFailed', ({ err }) => this.logger.warn(`RabbitMQ connection failed: ${err?.message}`));
  }

  async onApplicationShutdown(): Promise<void> {
    await this.manager.close();
  }
}
