#!/usr/bin/env node
'use strict';
/**
 * The Node.js runtime shim. Modes:
 *   --worker   the invoker's sandboxed worker (frames on fd 3; see lib/protocol.js)
 *   --http     an HTTP server on PORT (the OCI image entrypoint, for Knative)
 *   --once     run the handler once with a request read from stdin (for trying a function by hand)
 */
const mode = process.argv[2] || '--http';

/** A failure the mode did not handle itself: on stderr, and exit code 1, as for an uncaught error. */
const crash = (err) => {
  process.stderr.write(`${(err && err.stack) || err}\n`);
  process.exit(1);
};

if (mode === '--worker') require('./lib/worker').runWorker();
else if (mode === '--http') require('./lib/http-server').runHttpServer().catch(crash);
else if (mode === '--once') require('./lib/once').runOnce(process.argv.slice(3)).catch(crash);
else {
  process.stderr.write(`unknown mode ${mode}; use --worker, --http or --once\n`);
  process.exit(64);
}
