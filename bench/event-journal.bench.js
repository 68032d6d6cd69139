#!/usr/bin/env node
'use strict';
/**
 * What durable invocation events cost the warm path: three invokers from dist/ side by side, with the
 * event journal on disk (INVOKER_EVENT_JOURNAL=fsync: the events written with O_DSYNC, group commit, before the
 * answer), in the page cache (write, the default: on disk within INVOKER_EVENT_JOURNAL_SYNC_MS) and without it
 * (off: events only batched to the broker), the same warm node function on each. Sequential latency in alternating rounds, then throughput with the load
 * generator in its own process (alternating, best of 2, with the invoker process's CPU time per request, which a busy
 * machine disturbs less than requests/s); ratios journal/off from the same run.
 *
 *   npm run build && node bench/event-journal.bench.js [--warm 2000] [--seconds 5] [--connections 16] [--baseline DIR]
 *   (BENCH_DATA_DIR puts the invokers' data directories, hence the journal, on another filesystem)
 *
 * --baseline DIR: two more invokers, journal fsync and off, from DIR/dist (another checkout, built; e.g. `git archive
 * <commit>` unpacked with a node_modules link): a change to the recording measured against the code before it, same
 * run; the `off` pair shows the CPU cost of the events without the disk.
 */
const { spawn, spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { freePort } = require('../tools/platform.js');
const { writeBundle } = require('./lib/bundle');
const measure = require('./lib/measure');
const { stats, waitHttp } = measure;

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const WARM_N = option('--warm', 2000);
const SECONDS = option('--seconds', 5);
const CONNECTIONS = option('--connections', 16);
const ROUNDS = 5;
const BASELINE = args.includes('--baseline') ? path.resolve(args[args.indexOf('--baseline') + 1]) : undefined;
const HANDLER = 'module.exports.handle = async () => ({ ok: true });\n';

// The services' internal credential: the bench calls the invokers directly, as the gateway does.
const TOKEN = (process.env.HKS_INTERNAL_TOKEN ||= crypto.randomBytes(32).toString('hex'));
const INTERNAL = { 'x-hks-internal-token': TOKEN };

async function startInvoker(journal, root = ROOT) {
  const base = process.env.BENCH_DATA_DIR || os.tmpdir();
  fs.mkdirSync(base, { recursive: true });
  const dataDir = fs.mkdtempSync(path.join(base, `hks-bench-journal-${journal}-`));
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    HKS_NAMESPACE: `benchj${Date.now().toString(36)}${journal}`,
    HKS_DATA_DIR: dataDir,
    INVOKER_PORT: String(port),
    INVOKER_EVENT_JOURNAL: journal,
    LOG_LEVEL: 'warn',
    RPC_TIMEOUT_MS: '3000',
    HKS_INTERNAL_TOKEN: TOKEN,
  };
  for (const k of ['AMQP_URL', 'DATABASE_URL', 'REDIS_URL']) if (process.env[k]) env[k] = process.env[k];
  const main = path.join(root, 'dist', 'apps', 'invoker', 'src', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const log = fs.openSync(path.join(dataDir, 'invoker.log'), 'a');
  const child = spawn(process.execPath, [main], { env, stdio: ['ignore', log, log] });
  const url = `http://127.0.0.1:${port}`;
  await waitHttp(`${url}/readyz`);
  const digest = await writeBundle(dataDir, 'node', 'handler.*', { 'handler.js': HANDLER });
  const functionId = crypto.randomUUID();
  const spec = {
    functionId,
    label: 'bench-warm',
    version: 1,
    runtime: 'node',
    family: 'node',
    template: 'node',
    entrypoint: 'handler.*',
    bundleDigest: digest,
    image: null,
    config: { scaling: { minInstances: 1, maxInstances: 1, concurrency: 64 } },
  };
  const res = await fetch(`${url}/deployments/${functionId}`, {
    method: 'PUT',
    headers: { ...INTERNAL, 'content-type': 'application/json' },
    body: JSON.stringify({ deploymentId: crypto.randomUUID(), spec, env: {} }),
  });
  if (!res.ok) throw new Error(`deploying answered ${res.status}: ${await res.text()}`);
  return {
    journal,
    pid: child.pid,
    url: `${url}/invoke/bench-warm`,
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => child.once('exit', r));
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

const warmLatency = (urls) => measure.warmLatency(urls, { n: WARM_N, rounds: ROUNDS, headers: () => INTERNAL });

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout) || 100;
/** CPU time (user + system, ms) the process has used: less sensitive to a busy machine than requests/s. */
function cpuMs(pid) {
  const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLK_TCK;
}

/** A load run against one invoker, with the invoker's own CPU time per request (its workers not counted). */
function loadRun(inv) {
  const before = cpuMs(inv.pid);
  const r = loadGenerator(inv.url);
  r.cpuUsPerRequest = ((cpuMs(inv.pid) - before) * 1000) / Math.max(1, r.requests);
  return r;
}

function loadGenerator(url) {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'lib', 'load-generator.js'), url, String(CONNECTIONS), String(SECONDS)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`load generator failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Calibration: what the disk alone charges for one durable 1.5 KB write (in place, O_DSYNC), right now. */
function diskSync(dir) {
  const file = path.join(dir, `hks-bench-dsync-${process.pid}`);
  const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_DSYNC, 0o600);
  const block = Buffer.alloc(1536, 0x61);
  fs.writeSync(fd, Buffer.alloc(1 << 20), 0, 1 << 20, 0);
  const times = [];
  for (let i = 0; i < 300; i++) {
    const t = process.hrtime.bigint();
    fs.writeSync(fd, block, 0, block.length, (i * block.length) % (1 << 20));
    times.push(Number(process.hrtime.bigint() - t) / 1000);
  }
  fs.closeSync(fd);
  fs.rmSync(file, { force: true });
  return stats(times);
}

async function main() {
  const fsType = spawnSync('df', ['-T', process.env.BENCH_DATA_DIR || os.tmpdir()], { encoding: 'utf8' })
    .stdout.trim()
    .split('\n')
    .pop()
    .split(/\s+/)[1];
  console.log(
    `hks event journal bench  ${new Date().toISOString()}  ${os.cpus().length} CPU(s)  load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}  journal on ${fsType}`,
  );
  const invokers = [await startInvoker('fsync'), await startInvoker('off'), await startInvoker('write')];
  if (BASELINE) invokers.push(await startInvoker('fsync', BASELINE), await startInvoker('off', BASELINE));
  try {
    const dir = process.env.BENCH_DATA_DIR || os.tmpdir();
    const diskBefore = diskSync(dir);
    const [on, off, wr, base, baseOff] = await warmLatency(invokers.map((i) => i.url));
    const diskAfter = diskSync(dir);
    const runs = invokers.map(() => []);
    for (let round = 0; round < 2; round++) invokers.forEach((inv, i) => runs[i].push(loadRun(inv)));
    const best = (list) => list.reduce((a, b) => (b.rps > a.rps ? b : a));
    const [tOn, tOff, tWr, tBase, tBaseOff] = runs.map(best);
    const us = (v) => `${v.toFixed(0)} us`;
    console.log(`\nwarm invocation latency, invoker called directly (one keep-alive connection, sequential, n=${WARM_N} each, ${ROUNDS} alternating rounds)`);
    console.log(`  journal off (events batched to the broker)    p50 ${us(off.p50).padStart(9)}   p99 ${us(off.p99).padStart(9)}`);
    console.log(
      `  journal fsync (durable before the answer)     p50 ${us(on.p50).padStart(9)}   p99 ${us(on.p99).padStart(9)}   p50 +${us(on.p50 - off.p50)} (${(on.p50 / off.p50).toFixed(2)}x)  p99 ${(on.p99 / off.p99).toFixed(2)}x`,
    );
    console.log(
      `  journal write (page cache before the answer) p50 ${us(wr.p50).padStart(9)}   p99 ${us(wr.p99).padStart(9)}   p50 +${us(wr.p50 - off.p50)} (${(wr.p50 / off.p50).toFixed(2)}x)  p99 ${(wr.p99 / off.p99).toFixed(2)}x`,
    );
    const vsBase = (name, mine, theirs) =>
      console.log(
        `  baseline, ${name} (${path.basename(BASELINE)})`.padEnd(49) +
          `p50 ${us(theirs.p50).padStart(9)}   p99 ${us(theirs.p99).padStart(9)}   this build's p50 ${(mine.p50 / theirs.p50).toFixed(2)}x  p99 ${(mine.p99 / theirs.p99).toFixed(2)}x of it`,
      );
    if (base) {
      vsBase('journal fsync', on, base);
      vsBase('journal off', off, baseOff);
    }
    console.log(
      `  calibration: one durable 1.5 KB write on the same disk, before / after: p50 ${us(diskBefore.p50)} / ${us(diskAfter.p50)}   p99 ${us(diskBefore.p99)} / ${us(diskAfter.p99)}`,
    );
    console.log(`\nthroughput (${CONNECTIONS} keep-alive connections, ${SECONDS} s, load generator in its own process, best of 2)`);
    const row = (name, r) =>
      `  ${name.padEnd(46)} ${r.rps.toFixed(0).padStart(7)} req/s   p50 ${(r.latencyUs.p50 / 1000).toFixed(2)} ms   p99 ${(r.latencyUs.p99 / 1000).toFixed(2)} ms   invoker CPU ${r.cpuUsPerRequest.toFixed(0)} us/req${r.errors ? `   (${r.errors} errors)` : ''}`;
    console.log(row('journal off', tOff));
    console.log(`${row('journal fsync', tOn)}   = ${((100 * tOn.rps) / tOff.rps).toFixed(0)}% of off`);
    console.log(`${row('journal write (the default)', tWr)}   = ${((100 * tWr.rps) / tOff.rps).toFixed(0)}% of off`);
    if (tBase) {
      const pct = (a, b) => `${((100 * a.rps) / b.rps).toFixed(0)}%`;
      console.log(`${row(`baseline, journal fsync (${path.basename(BASELINE)})`, tBase)}   this build's fsync: ${pct(tOn, tBase)} of it`);
      console.log(`${row(`baseline, journal off (${path.basename(BASELINE)})`, tBaseOff)}   this build's off: ${pct(tOff, tBaseOff)} of it`);
    }
  } finally {
    for (const inv of invokers) await inv.stop();
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
