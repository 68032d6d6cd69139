import { loadSettings, CommonSettings } from '@platform/config';
import { startService } from '@platform/observability';
import { AppModule } from './app.module';
import { RegistrySettings } from './settings';

async function main(): Promise<void> {
  const settings = loadSettings({ ...CommonSettings, ...RegistrySettings });
  await startService({ service: 'function-registry', module: AppModule.forRoot(), port: settings.REGISTRY_PORT, rpc: 'function-registry' });
}

main().catch((err) => {
  // Before the logger exists (a wrong setting): the message alone, on stderr.
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
