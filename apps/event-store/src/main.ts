import { CommonSettings, loadSettings } from '@platform/config';
import { startService } from '@platform/observability';
import { AppModule, SERVICE } from './app.module';
import { EventStoreSettings } from './settings';

async function main(): Promise<void> {
  const settings = loadSettings({ ...CommonSettings, ...EventStoreSettings });
  await startService({ service: SERVICE, module: AppModule.forRoot(), port: settings.EVENT_STORE_PORT, rpc: SERVICE });
}

main().catch((err) => {
  // Before the logger exists (a wrong setting): the message alone, on stderr.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
