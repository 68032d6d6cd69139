#!/usr/bin/env node
'use strict';
/**
 * Eight (--burst) simultaneous cold starts of Node functions never called before, on the invoker alone
 * (from dist/): the client-side latency of each answer (p50, max) and how many of them found a prewarmed
 * worker. Several rounds (--rounds), each on fresh functions once the prewarm pool has settled, a few
 * seconds apart (inside the demand window): the first round meets the pool at its minimum, the later ones
 * the pool that the earlier bursts sized. --prewarm-max 2 reproduces a fixed pool of two (the behaviour
 * before the pool followed demand).
 *
 *   npm run build && node bench/cold-burst.bench.js [--burst 8] [--rounds 4] [--prewarm 2] [--prewarm-max 8] [--dist other/dist]
 */
const crypto = require('crypto');
const os = require('os');
const path = require('path');
const { deployFunction, startInvokerAlone } = require('./lib/invoker-alone');
const { readAllStats, descendants } = require('./lib/proc');

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const BURST = option('--burst', 8);
const ROUNDS = option('--rounds', 4);
const PREWARM = option('--prewarm', 2);
const PREWARM_MAX = option('--prewarm-max', 8);
// Another build to compare with in the same conditions (a copy of a tree's dist/ and libs/runtimes/runtimes/ beside each other).
const DIST = args.includes('--dist') ? path.resolve(args[args.indexOf('--dist') + 1]) : path.join(ROOT, 'dist');
const TOKEN = process.env.HKS_INTERNAL_TOKEN || crypto.randomBytes(32).toString('hex');
const HEADERS = { 'x-hks-internal-token': TOKEN };
const HANDLER = 'module.exports.handle = async () => ({ ok: true });\n';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
const summary = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return `p50 ${pct(s, 0.5).toFixed(1)} ms, max ${s[s.length - 1].toFixed(1)} ms`;
};

/** CPU ms so far of the invoker process itself and of its workers (ticks of 10 ms; workers that ended are not counted). */
function cpuSplit(pid) {
  const stats = readAllStats();
  const own = stats.get(pid);
  const invoker = own ? own.cpuMs : 0;
  const workers = descendants(stats, [pid])
    .filter((p) => p !== pid)
    .reduce((sum, p) => sum + stats.get(p).cpuMs, 0);
  return { invoker, workers };
}

async function api(base, method, url, body) {
  const res = await fetch(base + url, { method, headers: { ...HEADERS, 'content-type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

async function main() {
  const inv = await startInvokerAlone({
    dist: DIST,
    name: 'cold-burst',
    token: TOKEN,
    env: { INVOKER_PREWARM: String(PREWARM), INVOKER_PREWARM_MAX: String(PREWARM_MAX) },
  });
  const { base, child } = inv;
  try {
    const labels = [];
    for (let i = 0; i < BURST * ROUNDS; i++) {
      const label = `cold-${i}`;
      await deployFunction(inv, TOKEN, { label, family: 'node', entrypoint: 'handler.*', files: { 'handler.js': HANDLER } });
      labels.push(label);
    }
    console.log(`${BURST} simultaneous cold starts of node functions, INVOKER_PREWARM=${PREWARM} INVOKER_PREWARM_MAX=${PREWARM_MAX}, ${os.cpus().length} CPUs`);
    const all = [];
    for (let round = 0; round < ROUNDS; round++) {
      // The pool settled at the size the demand so far asks for (bounded wait).
      for (let i = 0; i < 100; i++) {
        const p = (await api(base, 'GET', '/deployments')).prewarm.node;
        if (p.starting === 0 && p.idle >= (p.target ?? PREWARM)) break;
        await sleep(100);
      }
      await sleep(500);
      const pool = (await api(base, 'GET', '/deployments')).prewarm.node;
      const burst = labels.slice(round * BURST, (round + 1) * BURST);
      const cpuBefore = cpuSplit(child.pid);
      const answers = await Promise.all(
        burst.map(async (label) => {
          const started = process.hrtime.bigint();
          const res = await fetch(`${base}/invoke/${label}`, { method: 'POST', headers: HEADERS });
          await res.arrayBuffer();
          const ms = Number(process.hrtime.bigint() - started) / 1e6;
          if (res.status !== 200) throw new Error(`${label} answered ${res.status}`);
          return { ms, cold: res.headers.get('x-cold-start') === 'true' };
        }),
      );
      const cpuAfter = cpuSplit(child.pid);
      // Counted on the workers still running (under INVOKER_MAX_WORKERS some may have been stopped for later ones).
      const workers = (await api(base, 'GET', '/deployments')).deployments.filter((d) => burst.includes(d.label)).flatMap((d) => d.workers);
      const prewarmed = workers.filter((w) => w.prewarmed).length;
      all.push(...answers.map((a) => a.ms));
      console.log(
        `round ${round + 1}: ${summary(answers.map((a) => a.ms))}; ${answers.filter((a) => a.cold).length} cold, ${prewarmed} on prewarmed workers ` +
          `(pool before the burst: ${pool.idle} idle, target ${pool.target ?? PREWARM}); ` +
          `CPU during the burst: invoker ${cpuAfter.invoker - cpuBefore.invoker} ms, workers ${cpuAfter.workers - cpuBefore.workers} ms`,
      );
    }
    console.log(`all rounds: ${summary(all)}${ROUNDS > 1 ? `; later rounds: ${summary(all.slice(BURST))}` : ''}`);
  } finally {
    await inv.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
