import { loadSettings } from '@platform/config';
import { startService } from '@platform/observability';
import { BuilderModule } from './app.module';
import { BuilderSettings } from './settings';

async function main(): Promise<void> {
  const settings = loadSettings(BuilderSettings);
  await startService({ service: 'builder', module: BuilderModule.register(), port: settings.BUILDER_PORT, rpc: 'builder' });
}

main().catch((err) => {
  console.error(`builder did not start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
