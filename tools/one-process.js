#!/usr/bin/env node
// Runs the six services in this one Node process: the local default of tools/platform.js (HKS_PROCESSES=one).
// Each keeps its own port, settings, Nest application and connections, exactly as when it runs alone
// (`node dist/apps/<service>/src/main.js`); what they share is one V8 heap and the loaded code, which takes the idle
// platform from six Node processes' memory to one's, and the gateway hands invocations to the invoker as a call
// instead of a loopback hop (InProcessHttp). A crash of any service ends the process; the supervisor restarts it.
'use strict';
const path = require('path');

const ROOT = path.resolve(__dirname, '..');
// Each of the six Nest applications adds its shutdown listeners to the one process.
process.setMaxListeners(64);

/** Start order: what others need first (as tools/platform.js starts separate processes). */
const SERVICES = (process.env.HKS_ONE_PROCESS_SERVICES || 'event-store,function-registry,builder,deployer,invoker,gateway').split(',');

async function main() {
  for (const service of SERVICES) {
    const { start } = require(path.join(ROOT, 'dist', 'apps', service, 'src', 'main.js'));
    try {
      await start();
    } catch (err) {
      // A wrong setting: its message names it; anything else with its stack.
      const text = err && err.problems ? err.message : err && err.stack ? err.stack : String(err);
      throw new Error(`${service} did not start: ${text}`);
    }
  }
}

main().catch((err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
