import { Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { AmqpConnection } from '@platform/messaging';
import { HealthRegistry } from '@platform/observability';
import { DeploymentStore } from './deployments/deployment.store';
import { DeploymentsService } from './deployments/deployments.service';
import { FunctionEventsConsumer } from './deployments/function-events.consumer';
import { InvocationsLifecycle } from './invocations/invocations.lifecycle';
import { ScheduleTriggers } from './triggers/schedule.triggers';
import { TriggerWiring } from './triggers/trigger-wiring.service';

/** Start-up: readiness checks, triggers rebuilt from the deployments table, event consumers, the asynchronous invocations' delivery loop. */
@Injectable()
export class DeployerLifecycle implements OnApplicationBootstrap {
  private readonly logger = new Logger(DeployerLifecycle.name);

  constructor(
    private readonly health: HealthRegistry,
    private readonly store: DeploymentStore,
    private readonly amqp: AmqpConnection,
    private readonly schedules: ScheduleTriggers,
    private readonly triggers: TriggerWiring,
    private readonly functionEvents: FunctionEventsConsumer,
    private readonly deployments: DeploymentsService,
    private readonly invocations: InvocationsLifecycle,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.health.register('postgres', () => this.store.ping());
    this.health.register('redis', () => this.schedules.ping());
    this.health.register('rabbitmq', () => {
      if (!this.amqp.manager.isConnected()) throw new Error('not connected');
    });
    await this.triggers.start();
    await this.functionEvents.start();
    await this.invocations.start();
    // Not awaited: it asks the registry, which may still be starting.
    void this.deployments.failStale().catch((err) => this.logger.warn(`checking for interrupted deployments: ${(err as Error).message}`));
  }
}
