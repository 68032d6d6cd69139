import { DynamicModule, Module } from '@nestjs/common';
import { SettingsModule } from '@platform/config';
import { MessagingModule, RpcClientsModule } from '@platform/messaging';
import { HealthModule, InternalRoutesModule } from '@platform/observability';
import { PersistenceModule } from '@platform/persistence';
import { DeployerLifecycle } from './deployer.lifecycle';
import { DeploymentEvents } from './deployments/deployment-events';
import { Deployment } from './deployments/deployment.entity';
import { DeploymentStore } from './deployments/deployment.store';
import { DeploymentsController } from './deployments/deployments.controller';
import { DeploymentsService } from './deployments/deployments.service';
import { TrafficService } from './deployments/traffic.service';
import { CanaryRunner } from './deployments/canary.runner';
import { FunctionEventsConsumer } from './deployments/function-events.consumer';
import { Drivers } from './drivers/drivers';
import { KnativeDriver } from './drivers/knative/knative.driver';
import { LocalDriver } from './drivers/local.driver';
import { CallbackKeys } from './invocations/callback-keys';
import { CallbackSender } from './invocations/callback-sender';
import { EventStoreClient } from './invocations/event-store.client';
import { FunctionPolicies } from './invocations/function-policy';
import { InvocationDispatcher } from './invocations/invocation-dispatcher';
import { InvocationPump } from './invocations/invocation-pump';
import { InvocationQueue } from './invocations/invocation-queue';
import { InvocationEntity } from './invocations/invocation.entity';
import { InvocationStore } from './invocations/invocation.store';
import { InvocationsController } from './invocations/invocations.controller';
import { InvocationsLifecycle } from './invocations/invocations.lifecycle';
import { InvocationsService } from './invocations/invocations.service';
import { migrations } from './migrations';
import { RegistryClient } from './registry/registry.client';
import { DeployerSettings } from './settings';
import { EventTriggers } from './triggers/event.triggers';
import { InvokerClient } from './triggers/invoker.client';
import { SourceHost } from './sources/source-host';
import { SourcesController } from './sources/sources.controller';
import { SourceStates } from './sources/source-states';
import { TopicPublisher } from './sources/topic-publisher';
import { ScheduleTriggers } from './triggers/schedule.triggers';
import { TriggerWiring } from './triggers/trigger-wiring.service';

export const SERVICE = 'deployer';

@Module({})
export class AppModule {
  /** `env` defaults to the process environment; tests pass an isolated one. */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    return {
      module: AppModule,
      imports: [
        SettingsModule.forRoot(DeployerSettings, env),
        MessagingModule.forRoot(SERVICE),
        RpcClientsModule.register(['function-registry', 'event-store']),
        PersistenceModule.forService({ schema: 'deployer', entities: [Deployment, InvocationEntity], migrations }),
        HealthModule.forService(SERVICE),
        InternalRoutesModule,
      ],
      controllers: [DeploymentsController, InvocationsController, SourcesController],
      providers: [
        DeploymentStore,
        DeploymentEvents,
        DeploymentsService,
        TrafficService,
        CanaryRunner,
        FunctionEventsConsumer,
        RegistryClient,
        LocalDriver,
        KnativeDriver,
        Drivers,
        InvokerClient,
        ScheduleTriggers,
        SourceHost,
        SourceStates,
        TopicPublisher,
        EventTriggers,
        TriggerWiring,
        DeployerLifecycle,
        InvocationStore,
        InvocationQueue,
        FunctionPolicies,
        CallbackKeys,
        CallbackSender,
        EventStoreClient,
        InvocationDispatcher,
        InvocationPump,
        InvocationsService,
        InvocationsLifecycle,
      ],
    };
  }
}
