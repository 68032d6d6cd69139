import type { INestApplication } from '@nestjs/common';
import { CommonSettings, loadSettings } from '@platform/config';
import { runWhenMain, startService } from '@platform/observability';
import { AppModule, SERVICE } from './app.module';
import { DeployerSettings } from './settings';

/** Starts the service; `node main.js` runs it alone, tools/one-process.js with the others in one process. */
export function start(): Promise<INestApplication> {
  // Validated here first so a wrong setting stops the process with a message naming it, before anything connects.
  const settings = loadSettings({ ...CommonSettings, ...DeployerSettings });
  return startService({ service: SERVICE, module: AppModule.forRoot(), rpc: 'deployer', port: settings.DEPLOYER_PORT });
}

runWhenMain(module, SERVICE, start);
