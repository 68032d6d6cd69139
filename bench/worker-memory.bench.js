#!/usr/bin/env node
'use strict';
/**
 * What one warm worker costs the machine: a Node and a Python function deployed on the invoker alone (from dist/,
 * no prewarm pool, so every worker found is a function's), each called --calls times, then the PSS and RSS of each
 * worker's process tree (the bwrap processes and the runtime, from /proc/<pid>/smaps_rollup), process by process.
 * Then the same functions scaled to zero (idleTimeoutMs 500): what is left of them (processes, code slots).
 * Medians over --rounds fresh invokers. --dist compares another build in the same conditions.
 *
 *   npm run build && node bench/worker-memory.bench.js [--rounds 3] [--calls 50] [--dist other/dist]
 */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const { deployFunction, startInvokerAlone } = require('./lib/invoker-alone');
const { readAllStats, descendants, parseSmapsRollup, median } = require('./lib/proc');

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const ROUNDS = option('--rounds', 3);
const CALLS = option('--calls', 50);
const DIST = args.includes('--dist') ? path.resolve(args[args.indexOf('--dist') + 1]) : path.join(ROOT, 'dist');
const TOKEN = process.env.HKS_INTERNAL_TOKEN || crypto.randomBytes(32).toString('hex');
const HEADERS = { 'x-hks-internal-token': TOKEN, 'content-type': 'application/json' };
const FUNCTIONS = {
  node: { entrypoint: 'handler.*', files: { 'handler.js': 'module.exports.handle = async (d) => ({ ok: true, d });\n' } },
  python: { entrypoint: 'handler.handle', files: { 'handler.py': 'def handle(d):\n    return {"ok": True, "d": d}\n' } },
};

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function api(base, method, url, body) {
  const res = await fetch(base + url, { method, headers: HEADERS, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return JSON.parse(text);
}

const cmdline = (pid) => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
};

const memoryOf = (pid) => {
  try {
    return parseSmapsRollup(fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
  } catch {
    return { rssKb: 0, pssKb: 0 };
  }
};

/** The worker trees under the invoker (one per bwrap it started), each with its runtime family and its processes' memory. */
function workerTrees(invokerPid) {
  const stats = readAllStats();
  const roots = [...stats.values()].filter((s) => s.ppid === invokerPid && path.basename(cmdline(s.pid)[0] || '') === 'bwrap').map((s) => s.pid);
  return roots.map((root) => {
    const pids = descendants(stats, [root]).sort((a, b) => a - b);
    const all = cmdline(root).join(' ');
    const family = all.includes('python/main.py') ? 'python' : 'node';
    const processes = pids.map((pid) => ({ pid, name: path.basename(cmdline(pid)[0] || '?'), ...memoryOf(pid) }));
    return { root, family, processes, pssKb: processes.reduce((s, p) => s + p.pssKb, 0), rssKb: processes.reduce((s, p) => s + p.rssKb, 0) };
  });
}

async function round() {
  const inv = await startInvokerAlone({
    dist: DIST,
    name: 'worker-memory',
    token: TOKEN,
    env: { INVOKER_PREWARM: '0', INVOKER_PREWARM_MAX: '0' },
    lifetimeMs: 3 * 60_000,
  });
  const { base, child, dataDir } = inv;
  try {
    const trees = [];
    for (const [family, fn] of Object.entries(FUNCTIONS)) {
      await deployFunction(inv, TOKEN, {
        label: `mem-${family}`,
        family,
        entrypoint: fn.entrypoint,
        files: fn.files,
        config: { scaling: { idleTimeoutMs: 500 } },
      });
      for (let i = 0; i < CALLS; i++) await api(base, 'POST', `/invoke/mem-${family}`, { data: { i } });
      // Right after its calls (its idle timeout is 500 ms): this function's one worker.
      trees.push(...workerTrees(child.pid).filter((t) => t.family === family));
    }
    // Scaled to zero: what is left once the idle timeout has stopped both workers.
    let left = null;
    for (let i = 0; i < 50; i++) {
      await sleep(100);
      const pools = (await api(base, 'GET', '/deployments')).deployments;
      if (pools.every((p) => p.instances === 0 && p.starting === 0)) break;
    }
    await sleep(200);
    const slotsDir = fs.readdirSync(dataDir, { recursive: true }).filter((p) => /(^|\/)slots\/[^/]+$/.test(String(p)));
    left = { processes: workerTrees(child.pid).reduce((n, t) => n + t.processes.length, 0), slots: slotsDir.length };
    return { trees, left };
  } finally {
    await inv.stop();
  }
}

async function main() {
  console.log(`warm worker memory, ${CALLS} calls each, ${ROUNDS} round(s), ${DIST}`);
  const per = { node: [], python: [] };
  const rss = { node: [], python: [] };
  let last;
  for (let r = 0; r < ROUNDS; r++) {
    const res = await round();
    last = res;
    for (const t of res.trees) {
      per[t.family].push(t.pssKb / 1024);
      rss[t.family].push(t.rssKb / 1024);
    }
    console.log(
      `round ${r + 1}: ` +
        res.trees
          .map((t) => `${t.family} ${(t.pssKb / 1024).toFixed(1)} MB PSS (${t.processes.map((p) => `${p.name} ${(p.pssKb / 1024).toFixed(1)}`).join(', ')})`)
          .join('; ') +
        `; scaled to zero: ${res.left.processes} worker processes, ${res.left.slots} code slots left`,
    );
  }
  for (const f of ['node', 'python']) {
    console.log(
      `${f} warm worker: PSS median ${median(per[f]).toFixed(1)} MB, RSS median ${median(rss[f]).toFixed(1)} MB (process tree: ${last.trees.find((t) => t.family === f)?.processes.length} processes)`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
