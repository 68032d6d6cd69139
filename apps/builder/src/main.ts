import type { INestApplication } from '@nestjs/common';
import { loadSettings } from '@platform/config';
import { runWhenMain, startService } from '@platform/observability';
import { BuilderModule } from './app.module';
import { BuilderSettings } from './settings';

/** Starts the service; `node main.js` runs it alone, tools/one-process.js with the others in one process. */
export function start(): Promise<INestApplication> {
  const settings = loadSettings(BuilderSettings);
  return startService({ service: 'builder', module: BuilderModule.register(), port: settings.BUILDER_PORT, rpc: 'builder' });
}

runWhenMain(module, 'builder', start);
