'use strict';
/**
 * How a bench runs: `main()`, then everything it pushed on `bench.cleanups` is undone, last first; also on an error
 * (exit 1) or on SIGINT/SIGTERM (exit 130, after which `bench.interrupted` is true so loops can stop early).
 */
function createBench() {
  const bench = { cleanups: [], interrupted: false };

  async function cleanup() {
    while (bench.cleanups.length) {
      try {
        await bench.cleanups.pop()();
      } catch (err) {
        console.error(`cleanup: ${err.message}`);
      }
    }
  }

  bench.run = (main) => {
    for (const sig of ['SIGINT', 'SIGTERM']) {
      process.on(sig, () => {
        if (bench.interrupted) return;
        bench.interrupted = true;
        console.error(`${sig}: stopping everything the bench started`);
        void cleanup().then(() => process.exit(130));
      });
    }
    return main()
      .then(cleanup)
      .catch(async (err) => {
        console.error(`bench failed: ${err && err.stack ? err.stack : err}`);
        await cleanup();
        process.exit(1);
      });
  };
  return bench;
}

module.exports = { createBench };
