import { CommonSettings, loadSettings } from '@platform/config';
import { startService } from '@platform/observability';
import { AppModule, SERVICE } from './app.module';
import { EventStoreSettings } from './settings';

async function main(): Promise<void> {
  const settings = loadSettings({ ...CommonSettings, ...EventStoreSettings });
  await startService({ service: SERVICE, module: AppModule.forRoot(), port: settings.EVENT_STORE_PORT, rpc: SERVICE });
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
