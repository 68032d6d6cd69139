import { loadSettings, CommonSettings } from '@platform/config';
import { startService } from '@platform/observability';
import { AppModule } from './app.module';
import { RegistrySettings } from './settings';

async function main(): Promise<void> {
  const settings = loadSettings({ ...CommonSettings, ...RegistrySettings });
  await startService({ service: 'function-registry', module: AppModule.forRoot(), port: settings.REGISTRY_PORT, rpc: 'function-registry' });
}

main().catch((err) => {
  // eslint-disable-next-line no-console
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
