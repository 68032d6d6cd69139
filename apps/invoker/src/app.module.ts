import { ImageStore } from './images/image-store';
import { DynamicModule, Module } from '@nestjs/common';
import { SettingsModule } from '@platform/config';
import { MessagingModule, RpcClientsModule } from '@platform/messaging';
import { HealthModule, InternalRoutesModule } from '@platform/observability';
import { BundleStore } from './bundles/bundle-store';
import { DeploymentSync } from './deployments/deployment-sync';
import { DeploymentTable } from './deployments/deployment-table';
import { DeploymentsController } from './deployments/deployments.controller';
import { DebugController } from './debug/debug.controller';
import { DebugSessions } from './debug/debug-sessions';
import { InvocationMetrics } from './invocations/invocation-metrics';
import { InvocationRecorder } from './invocations/invocation-recorder';
import { InvokeServer } from './invocations/invoke-server';
import { KnativeProxy } from './invocations/knative-proxy';
import { InvokerSettings } from './settings';
import { WorkDirs } from './workers/work-dirs';
import { WorkerLauncher } from './workers/worker-launcher';

export const SERVICE = 'invoker';

@Module({})
export class AppModule {
  /** `env` defaults to the process environment; tests pass an isolated one. */
  static forRoot(env: NodeJS.ProcessEnv = process.env): DynamicModule {
    return {
      module: AppModule,
      imports: [
        SettingsModule.forRoot(InvokerSettings, env),
        MessagingModule.forRoot(SERVICE),
        RpcClientsModule.register(['deployer', 'function-registry']),
        HealthModule.forService(SERVICE),
        InternalRoutesModule,
      ],
      controllers: [DeploymentsController, DebugController],
      providers: [
        WorkDirs,
        WorkerLauncher,
        BundleStore,
        ImageStore,
        DeploymentTable,
        DeploymentSync,
        InvocationRecorder,
        InvocationMetrics,
        KnativeProxy,
        InvokeServer,
        DebugSessions,
      ],
    };
  }
}
