import type { INestApplication } from '@nestjs/common';
import { CommonSettings, loadSettings } from '@platform/config';
import { runWhenMain, startService } from '@platform/observability';
import { AppModule } from './app.module';
import { RegistrySettings } from './settings';

/** Starts the service; `node main.js` runs it alone, tools/one-process.js with the others in one process. */
export function start(): Promise<INestApplication> {
  const settings = loadSettings({ ...CommonSettings, ...RegistrySettings });
  return startService({ service: 'function-registry', module: AppModule.forRoot(), port: settings.REGISTRY_PORT, rpc: 'function-registry' });
}

runWhenMain(module, 'function-registry', start);
