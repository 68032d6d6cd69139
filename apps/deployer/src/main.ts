import { CommonSettings, loadSettings } from '@platform/config';
import { startService } from '@platform/observability';
import { AppModule, SERVICE } from './app.module';
import { DeployerSettings } from './settings';

async function main(): Promise<void> {
  // Validated here first so a wrong setting stops the process with a message naming it, before anything connects.
  const settings = loadSettings({ ...CommonSettings, ...DeployerSettings });
  await startService({ service: SERVICE, module: AppModule.forRoot(), rpc: 'deployer', port: settings.DEPLOYER_PORT });
}

void main().catch((err) => {
  console.error(err instanceof Error ? (err.stack ?? err.message) : err);
  process.exit(1);
});
