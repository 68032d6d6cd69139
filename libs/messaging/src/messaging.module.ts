import { DynamicModule, Global, Module } from '@nestjs/common';
import { AmqpConnection } from './amqp-connection';
import { EventPublisher } from './event-publisher';
import { EventSubscriber } from './event-subscriber';
import { SERVICE_NAME } from './tokens';

/** RabbitMQ connection, event publisher (confirms + spool) and event subscriber for one service. */
@Global()
@Module({})
export class MessagingModule {
  static forRoot(service: string): DynamicModule {
    return {
      module: MessagingModule,
      providers: [{ provide: SERVICE_NAME, useValue: service }, AmqpConnection, EventPublisher, EventSubscriber],
      exports: [SERVICE_NAME, AmqpConnection, EventPublisher, EventSubscriber],
    };
  }
}
