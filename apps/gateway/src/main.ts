import type { INestApplication } from '@nestjs/common';
import { CommonSettings, loadSettings } from '@platform/config';
import { runWhenMain, startService } from '@platform/observability';
import { AppModule } from './app.module';
import { configureGateway } from './configure';
import { GatewaySettings } from './settings';

/** Starts the service; `node main.js` runs it alone, tools/one-process.js with the others in one process. */
export function start(): Promise<INestApplication> {
  const settings = loadSettings({ ...CommonSettings, ...GatewaySettings });
  return startService({ service: 'gateway', module: AppModule.forRoot(), port: settings.GATEWAY_PORT, configure: configureGateway });
}

runWhenMain(module, 'gateway', start);
