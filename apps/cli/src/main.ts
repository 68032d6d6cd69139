#!/usr/bin/env node
import { runCli } from './cli';
import { processIO } from './io';

// Ctrl-C aborts what is running (a --follow stream, a wait) so it can end cleanly; a second one exits at once.
const controller = new AbortController();
process.once('SIGINT', () => {
  controller.abort();
  process.once('SIGINT', () => process.exit(130));
});

// Output to a closed pipe (`hks function logs x | head`) is not an error worth a stack trace.
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (err.code === 'EPIPE') process.exit(0);
  throw err;
});

runCli(process.argv.slice(2), processIO(controller.signal)).then(
  (code) => {
    process.exitCode = controller.signal.aborted && code !== 0 ? 130 : code;
  },
  (err) => {
    process.stderr.write(`error: ${(err as Error).message}\n`);
    process.exitCode = 1;
  },
);
