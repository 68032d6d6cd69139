import { Injectable, OnModuleInit } from '@nestjs/common';
import { DataSource } from 'typeorm';
import { AmqpConnection } from '@platform/messaging';
import { HealthRegistry } from '@platform/observability';
import { EventIngest } from '../ingest/event-ingest.service';

/** What /readyz checks for the event store: its database, its broker, and that batches commit. */
@Injectable()
export class Readiness implements OnModuleInit {
  constructor(
    private readonly health: HealthRegistry,
    private readonly ds: DataSource,
    private readonly amqp: AmqpConnection,
    private readonly ingest: EventIngest,
  ) {}

  onModuleInit(): void {
    this.health.register('database', async () => {
      await this.ds.query('SELECT 1');
    });
    this.health.register('broker', () => {
      if (!this.amqp.manager.isConnected()) throw new Error('not connected to RabbitMQ');
    });
    this.health.register('ingest', () => this.ingest.check());
  }
}
