import { Inject, Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { SETTINGS } from '@platform/config';
import { AmqpConnection } from '@platform/messaging';
import { HealthRegistry } from '@platform/observability';
import { DeploymentStore } from './deployments/deployment.store';
import { DeploymentsService } from './deployments/deployments.service';
import { FunctionEventsConsumer } from './deployments/function-events.consumer';
import { InvocationsLifecycle } from './invocations/invocations.lifecycle';
import { ScheduleTriggers } from './triggers/schedule.triggers';
import { TriggerWiring } from './triggers/trigger-wiring.service';
import { DeployerSettingsValues } from './settings';

/**
 * Start-up: readiness checks, triggers rebuilt from the deployments table, event consumers, the asynchronous invocations' delivery loop,
 * and the take-over of deployments whose deployer died mid-way.
 */
@Injectable()
export class DeployerLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DeployerLifecycle.name);
  private takeOver?: NodeJS.Timeout;
  private checking = false;

  constructor(
    private readonly health: HealthRegistry,
    private readonly store: DeploymentStore,
    private readonly amqp: AmqpConnection,
    private readonly schedules: ScheduleTriggers,
    private readonly triggers: TriggerWiring,
    private readonly functionEvents: FunctionEventsConsumer,
    private readonly deployments: DeploymentsService,
    private readonly invocations: InvocationsLifecycle,
    @Inject(SETTINGS) private readonly settings: DeployerSettingsValues,
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
    // Not awaited: it asks the registry, which may still be starting. Then again and again: a replica that dies
    // mid-deploy is taken over by the others within its lease.
    void this.takeOverExpired();
    this.takeOver = setInterval(() => void this.takeOverExpired(), this.settings.DEPLOYER_DEPLOY_LEASE_RENEW_MS);
    this.takeOver.unref();
  }

  private async takeOverExpired(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      await this.deployments.takeOverExpired();
    } catch (err) {
      this.logger.warn(`checking for interrupted deployments: ${(err as Error).message}`);
    } finally {
      this.checking = false;
    }
  }

  onApplicationShutdown(): void {
    if (this.takeOver) clearInterval(this.takeOver);
  }
}
