import { InvalidSettingsError } from '@platform/config';

/**
 * Runs a service's start function when its file is the process's entry point (node dist/apps/<x>/src/main.js); a
 * start that fails prints why and exits 1. Imported (tools/one-process.js starts several services in one process), it
 * does nothing and the importer calls the start function.
 */
export function runWhenMain(entry: NodeModule, service: string, start: () => Promise<unknown>): void {
  if (require.main !== entry) return;
  // Through a promise, so a setting refused synchronously (loadSettings throws) is reported the same way.
  Promise.resolve()
    .then(start)
    .catch((err: unknown) => {
      // A wrong setting: the message names it; anything else also gets its stack, to find the bug.
      const text = err instanceof InvalidSettingsError ? err.message : err instanceof Error ? (err.stack ?? err.message) : String(err);
      process.stderr.write(`${service} did not start: ${text}\n`);
      process.exit(1);
    });
}
