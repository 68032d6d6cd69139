import type { INestApplication } from '@nestjs/common';
import { CommonSettings, loadSettings } from '@platform/config';
import { runWhenMain, startService } from '@platform/observability';
import { AppModule, SERVICE } from './app.module';
import { EventStoreSettings } from './settings';

/** Starts the service; `node main.js` runs it alone, tools/one-process.js with the others in one process. */
export function start(): Promise<INestApplication> {
  const settings = loadSettings({ ...CommonSettings, ...EventStoreSettings });
  return startService({ service: SERVICE, module: AppModule.forRoot(), port: settings.EVENT_STORE_PORT, rpc: SERVICE });
}

runWhenMain(module, SERVICE, start);
