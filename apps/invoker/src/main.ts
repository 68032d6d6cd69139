import { CommonSettings, loadSettings } from '@platform/config';
import { startService } from '@platform/observability';
import { AppModule, SERVICE } from './app.module';
import { mountInvocations } from './invocations/mount';
import { InvokerSettings } from './settings';

async function main(): Promise<void> {
  // Validated here first so a wrong setting stops the process with a message naming it, before anything starts.
  const settings = loadSettings({ ...CommonSettings, ...InvokerSettings });
  await startService({ service: SERVICE, module: AppModule.forRoot(), port: settings.INVOKER_PORT, configure: mountInvocations });
}

void main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
