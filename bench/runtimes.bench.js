#!/usr/bin/env node
'use strict';
/**
 * Every runtime side by side (Node, Python, Go, Java), the whole platform from dist/, through the gateway:
 *   - cold start from zero instances (p50/p99), each with a prewarmed worker of its runtime waiting (steady state),
 *     and what the invoker measured for it (x-start-ms: from taking a worker to the function loaded);
 *   - warm invocation latency (p50/p99, one keep-alive connection, sequential), one trivial function per runtime.
 *
 *   npm run build && node bench/runtimes.bench.js [--cold 20] [--warm 1000] [--runtimes node,python,go,java]
 */
const crypto = require('crypto');
const http = require('http');
const os = require('os');
const measure = require('./lib/measure');
const { startFullPlatform, sleep } = require('./lib/platform-under-test');

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const COLD_N = Number(option('--cold', 20));
const WARM_N = Number(option('--warm', 1000));
const ROUNDS = 5;
const WANTED = option('--runtimes', 'node,python,go,java').split(',');
process.env.HKS_INTERNAL_TOKEN = process.env.HKS_INTERNAL_TOKEN || crypto.randomBytes(32).toString('hex');
const INTERNAL = { 'x-hks-internal-token': process.env.HKS_INTERNAL_TOKEN };

/** The same trivial function in each runtime: {ok: true} as JSON. */
const HANDLERS = {
  node: 'module.exports.handle = async () => ({ ok: true });\n',
  python: "def handle(request):\n    return {'ok': True}\n",
  go: 'package function\n\nimport "context"\n\nfunc Handle(ctx context.Context, in any) (map[string]bool, error) {\n\treturn map[string]bool{"ok": true}, nil\n}\n',
  java: 'import java.util.Map;\n\npublic class Handler implements hks.RequestHandler<Object, Object> {\n  public Object handleRequest(Object in, hks.Context ctx) {\n    return Map.of("ok", true);\n  }\n}\n',
};

const ms = (v) => `${v.toFixed(v < 1 ? 3 : 1)} ms`;
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Cold starts from zero instances, each with a prewarmed worker of the runtime waiting. */
async function coldStarts(target, fn, runtime, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const client = [];
  const start = [];
  while (client.length < n) {
    for (let i = 0; ; i++) {
      const s = await target.api(target.invokerUrl, 'GET', '/deployments');
      const pool = s.deployments.find((d) => d.functionId === fn.functionId);
      const prewarm = s.prewarm[runtime];
      if ((!pool || pool.instances + pool.starting === 0) && (!prewarm || (prewarm.idle >= 1 && prewarm.starting === 0))) break;
      if (i > 400) throw new Error(`${runtime} pool did not go back to zero instances with a prewarmed worker waiting`);
      await sleep(50);
    }
    await sleep(100); // let the machine settle after the refill
    const r = await measure.timed(agent, fn.url, { headers: target.headers() });
    if (r.status !== 200) throw new Error(`cold invocation of ${runtime} answered ${r.status}`);
    if (r.headers['x-cold-start'] !== 'true') continue;
    client.push(r.us / 1000);
    start.push(Number(r.headers['x-start-ms']));
  }
  agent.destroy();
  return { client: measure.stats(client), start: measure.stats(start) };
}

async function main() {
  console.log(`hks runtimes bench  ${new Date().toISOString()}  ${os.cpus().length} CPU(s)  load average ${loadavg()}`);
  console.log('MODE: full platform from dist/, through the gateway (gateway -> invoker -> sandboxed workers)');
  const target = await startFullPlatform({ internal: INTERNAL, buildTimeoutMs: 300_000 });
  try {
    const cold = {};
    const warm = {};
    for (const runtime of WANTED) {
      const t = Date.now();
      cold[runtime] = await target.deploy(`bench-${runtime}-cold`, runtime, HANDLERS[runtime], { scaling: { minInstances: 0, idleTimeoutMs: 100 } });
      warm[runtime] = await target.deploy(`bench-${runtime}-warm`, runtime, HANDLERS[runtime], { scaling: { minInstances: 1, maxInstances: 1 } });
      console.log(`  built and deployed ${runtime} (${((Date.now() - t) / 1000).toFixed(1)} s for both)`);
    }
    const coldStats = {};
    for (const runtime of WANTED) coldStats[runtime] = await coldStarts(target, cold[runtime], runtime, COLD_N);
    const latency = await measure.warmLatency(
      WANTED.map((r) => warm[r].url),
      { n: WARM_N, rounds: ROUNDS, headers: target.headers },
    );
    const row = (name, s, extra = '') => console.log(`  ${name.padEnd(28)} p50 ${ms(s.p50).padStart(10)}   p99 ${ms(s.p99).padStart(10)}   ${extra}`);
    console.log(`\ncold start from zero instances via gateway (n=${COLD_N} each, a prewarmed worker of the runtime waiting)`);
    for (const runtime of WANTED) {
      const c = coldStats[runtime];
      row(runtime, c.client, `(invoker-measured start: p50 ${ms(c.start.p50)}, p99 ${ms(c.start.p99)})`);
    }
    console.log(`\nwarm invocation latency via gateway (one keep-alive connection, sequential, n=${WARM_N} each, ${ROUNDS} alternating rounds)`);
    WANTED.forEach((runtime, i) => row(runtime, { p50: latency[i].p50 / 1000, p99: latency[i].p99 / 1000 }));
    console.log(`\nload average at the end: ${loadavg()}`);
  } finally {
    await target.stop();
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
