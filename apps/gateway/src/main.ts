import { CommonSettings, loadSettings } from '@platform/config';
import { startService } from '@platform/observability';
import { AppModule } from './app.module';
import { configureGateway } from './configure';
import { GatewaySettings } from './settings';

async function main(): Promise<void> {
  const settings = loadSettings({ ...CommonSettings, ...GatewaySettings });
  await startService({ service: 'gateway', module: AppModule.forRoot(), port: settings.GATEWAY_PORT, configure: configureGateway });
}

main().catch((err) => {
  // Before the logger exists (a wrong setting): the message alone, on stderr.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
