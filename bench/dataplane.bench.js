#!/usr/bin/env node
'use strict';
/**
 * hks's data plane next to its peers, in one run on this machine, as one table of absolute figures and hks/peer ratios:
 *   - workerd (Cloudflare's runtime: one process, a V8 isolate per worker), a fetch handler from a capnp config;
 *   - @google-cloud/functions-framework (Express around one function, one process), an HTTP function;
 *   - a bare node http server (the floor of any Node answer);
 *   - hks: the whole platform from dist/ (its own namespace, database, data dir and ports), a deployed Node function
 *     called through the gateway's public invoke endpoint with the admin key.
 * The same hello-world ({"ok":true}) everywhere, the same load generator (wrk; the Node one of bench/lib without it),
 * in interleaved rounds whose medians are printed. Then the scale run: N functions deployed and each called once, on
 * hks and as N workers of one workerd.
 * The peers are installed on demand into bench/.peers (its own package.json, gitignored; not the platform's
 * dependencies) and reused from there. Only 127.0.0.1 is called; everything started is stopped at the end, error or not.
 *
 *   npm run build && node bench/dataplane.bench.js [--quick] [--rounds 3] [--seconds 5] [--functions 1000] [--zero-seconds 90] [--no-install]
 */
const { spawn, spawnSync } = require('child_process');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { freePort, startPlatform } = require('../tools/platform.js');
const { treeCpuMs, treeMemory, median } = require('./lib/proc');
const { ensureWrk, loadGenerator } = require('./lib/wrk');
const { formatTable } = require('./lib/table');
const { createBench } = require('./lib/run');

const ROOT = path.resolve(__dirname, '..');
const PEERS_DIR = path.join(__dirname, '.peers');
const PEER_VERSIONS = { workerd: '^1.20261117.1', '@google-cloud/functions-framework': '^5.0.5' };
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const QUICK = flag('--quick');
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const ROUNDS = option('--rounds', QUICK ? 1 : 3);
const SECONDS = option('--seconds', QUICK ? 2 : 5);
const FUNCTIONS = option('--functions', QUICK ? 20 : 1000);
/** No scale-run call is started after this: a platform that stops answering would hold each for its 30 s timeout. */
const SCALE_CALL_SECONDS = option('--scale-seconds', QUICK ? 30 : 120);
/** How long the scale run's functions may take to scale to zero (their default idle timeout is 60 s); 0 skips it. */
const ZERO_SECONDS = option('--zero-seconds', QUICK ? 0 : 90);
const CONNECTIONS = 32;
/** The scale run stops deploying and calling when the machine has less memory than this left (it is shared). */
const MIN_AVAILABLE_MB = 3072;

const HELLO = '{"ok":true}';
const NODE_HANDLER = 'module.exports.handle = async () => ({ ok: true });\n';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const say = (line) => console.log(line);
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
const memAvailableMb = () => Number(/MemAvailable:\s+(\d+)/.exec(fs.readFileSync('/proc/meminfo', 'utf8'))[1]) / 1024;

/** Everything to undo at the end, last first. */
const bench = createBench();
const cleanups = bench.cleanups;

// ---------------------------------------------------------------- peers, installed on demand

function peerPaths() {
  const cf = path.join(PEERS_DIR, 'node_modules', '@cloudflare');
  const platformPkg = fs.existsSync(cf) ? fs.readdirSync(cf).find((d) => d.startsWith(`workerd-${process.platform}-`)) : undefined;
  return {
    workerd: platformPkg && path.join(cf, platformPkg, 'bin', 'workerd'),
    functionsFramework: path.join(PEERS_DIR, 'node_modules', '@google-cloud', 'functions-framework', 'build', 'src', 'main.js'),
  };
}

function ensurePeers() {
  let p = peerPaths();
  if (p.workerd && fs.existsSync(p.workerd) && fs.existsSync(p.functionsFramework)) return p;
  if (flag('--no-install')) throw new Error(`the peers are not in ${PEERS_DIR} and --no-install was given`);
  say(`installing the peers into ${path.relative(ROOT, PEERS_DIR)} (npm install --prefix, outside the platform's dependencies)`);
  fs.mkdirSync(PEERS_DIR, { recursive: true });
  fs.writeFileSync(
    path.join(PEERS_DIR, 'package.json'),
    JSON.stringify(
      { name: 'hks-bench-peers', private: true, description: 'What bench/dataplane.bench.js measures hks against', dependencies: PEER_VERSIONS },
      null,
      2,
    ) + '\n',
  );
  const r = spawnSync('npm', ['install', '--prefix', PEERS_DIR, '--no-audit', '--no-fund', '--loglevel', 'error'], { stdio: 'inherit', timeout: 300_000 });
  if (r.status !== 0) throw new Error(`npm install --prefix ${PEERS_DIR} failed`);
  p = peerPaths();
  if (!p.workerd || !fs.existsSync(p.workerd)) throw new Error(`workerd has no binary for ${process.platform}-${process.arch} in ${PEERS_DIR}`);
  return p;
}

/** The hello-world of each peer, in a scratch folder. */
function writeHelloWorlds(dir) {
  fs.writeFileSync(
    path.join(dir, 'worker.js'),
    `export default { fetch() { return new Response('${HELLO}', { headers: { 'content-type': 'application/json' } }); } };\n`,
  );
  fs.writeFileSync(path.join(dir, 'index.js'), `exports.hello = (req, res) => { res.json({ ok: true }); };\n`);
  fs.writeFileSync(
    path.join(dir, 'bare.js'),
    `const b = Buffer.from('${HELLO}');\nrequire('http').createServer((q, s) => { q.resume(); s.writeHead(200, { 'content-type': 'application/json', 'content-length': b.length }); s.end(b); }).listen(Number(process.argv[2]), '127.0.0.1');\n`,
  );
}

/** A workerd config: one socket on 127.0.0.1; with n > 0, a router worker dispatching /fn<i> to n separate workers. */
function workerdConfig(port, n = 0) {
  const workers = Array.from({ length: n }, (_, i) => `    (name = "fn${i}", worker = .hello),`).join('\n');
  const bindings = Array.from({ length: n }, (_, i) => `(name = "fn${i}", service = "fn${i}")`).join(', ');
  const router = n
    ? `const router :Workerd.Worker = (modules = [(name = "router", esModule = embed "router.js")], compatibilityDate = "2024-01-01", bindings = [${bindings}]);\n`
    : '';
  return `using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [
    (name = "main", worker = ${n ? '.router' : '.hello'}),
${workers}
  ],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "main")],
);
const hello :Workerd.Worker = (modules = [(name = "worker", esModule = embed "worker.js")], compatibilityDate = "2024-01-01");
${router}`;
}

/** GETs `url` every 2 ms until it answers 200; resolves with the ms since `startedNs`. */
async function firstAnswer(url, startedNs, child, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (child && child.exitCode !== null) throw new Error(`${url}: the process exited with ${child.exitCode} before answering`);
    const status = await new Promise((resolve) => {
      const req = http.get(url, { agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', () => resolve(0));
    });
    if (status === 200) return Number(process.hrtime.bigint() - startedNs) / 1e6;
    if (Date.now() > deadline) throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
    await sleep(2);
  }
}

async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

/** Starts a peer from zero; resolves once it answered, with its cold start (process start to first 200). */
async function startPeer(name, cmd, cmdArgs, port, pathName = '/') {
  const started = process.hrtime.bigint();
  const child = spawn(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production' } });
  let stderr = '';
  child.stderr.on('data', (c) => (stderr = (stderr + c).slice(-2000)));
  const stop = () => stopChild(child);
  cleanups.push(stop);
  const url = `http://127.0.0.1:${port}${pathName}`;
  try {
    const coldMs = await firstAnswer(url, started, child);
    return { name, url, roots: [child.pid], coldMs, stop };
  } catch (err) {
    await stop();
    throw new Error(`${name}: ${err.message}\n${stderr}`);
  }
}

function peerTargets(paths, dir) {
  return [
    {
      name: 'workerd',
      async start() {
        const port = await freePort();
        fs.writeFileSync(path.join(dir, 'config.capnp'), workerdConfig(port));
        return startPeer('workerd', paths.workerd, ['serve', path.join(dir, 'config.capnp')], port);
      },
    },
    {
      name: 'functions-framework',
      async start() {
        const port = await freePort();
        return startPeer('functions-framework', process.execPath, [paths.functionsFramework, '--target=hello', `--source=${dir}`, `--port=${port}`], port);
      },
    },
    {
      name: 'bare node http',
      async start() {
        const port = await freePort();
        return startPeer('bare node http', process.execPath, [path.join(dir, 'bare.js'), String(port)], port);
      },
    },
  ];
}

// ---------------------------------------------------------------- hks: the platform from dist/

/** hks from dist/; `processes`: 'one' (the local default, all six services in one process) or 'each'. */
async function startHks(processes = 'one') {
  const gatewayMain = path.join(ROOT, 'dist', 'apps', 'gateway', 'src', 'main.js');
  if (!fs.existsSync(gatewayMain)) throw new Error(`${gatewayMain} is missing: run \`npm run build\` first`);
  const { Client } = require('pg');
  const adminUrl = process.env.TEST_PG_ADMIN_URL || 'postgres://root@127.0.0.1:5432/postgres';
  const suffix = `${Date.now().toString(36)}${process.pid.toString(36)}`;
  const db = `hks_dataplane_${suffix}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${db}"`);
  await admin.end();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hks-dataplane-'));
  cleanups.push(async () => {
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    await c.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${db}`;
  const platform = await startPlatform({
    processes,
    env: { DATABASE_URL: dbUrl.toString(), HKS_NAMESPACE: `dataplane${suffix}`, HKS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
    randomPorts: true,
    logDir: path.join(dataDir, 'logs'),
    readyTimeoutMs: 90_000,
  });
  cleanups.push(() => platform.stop());
  const gw = platform.gatewayUrl;
  const auth = { authorization: `Bearer ${platform.adminKey}` };
  const api = async (method, url, body) => {
    const res = await fetch(gw + url, {
      method,
      headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body && JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  };
  const roots = () => platform.children.map((c) => c.proc && c.proc.pid).filter(Boolean);
  const pg = new Client({ connectionString: dbUrl.toString() });
  await pg.connect();
  cleanups.push(() => pg.end());
  return {
    name: processes === 'one' ? 'hks' : 'hks, process each',
    auth,
    roots,
    stop: () => platform.stop(),
    /** Invocations of the function with a result event in the event store (what the event store has ingested so far). */
    async recorded(functionId) {
      const r = await pg.query(`SELECT count(*)::int AS n FROM events.events WHERE function_id = $1 AND status <> 'PENDING'`, [functionId]);
      return r.rows[0].n;
    },
    /** Created, built and deployed through the public API with the platform's defaults (a user's first function). */
    async deploy(label, config) {
      const fn = await api('POST', '/api/v1/functions', { label, runtime: 'node', template: 'node', handler: NODE_HANDLER, ...(config ? { config } : {}) });
      await api('POST', `/api/v1/functions/build/${fn.id}`);
      for (let i = 0; ; i++) {
        const f = await api('GET', `/api/v1/functions/${fn.id}`);
        if (f.status === 'BUILT' || f.status === 'READY') break;
        if (f.status === 'FAILED') throw new Error(`building ${label} failed: ${f.statusReason}`);
        if (i > 1200) throw new Error(`building ${label} took more than two minutes`);
        await sleep(100);
      }
      await api('POST', `/api/v1/functions/deploy/${fn.id}`);
      return { id: fn.id, url: `${gw}/api/v1/functions/invoke/${fn.id}` };
    },
  };
}

/** One call: {status, ms, headers}; a refused connection or timeout is status 0. */
function call(url, headers) {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = http.get(url, { agent: false, headers, timeout: 60_000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', (err) => resolve({ status: 0, error: err.message, ms: Number(process.hrtime.bigint() - started) / 1e6 }));
  });
}

// ---------------------------------------------------------------- the measurements

/** Warm latency at one connection, then requests/s at 32 with the target's process-tree CPU over that run. */
async function measureWarm(gen, target, url, headers) {
  const warmup = await gen.load(url, { connections: CONNECTIONS, seconds: 1, headers }); // warm-up: JIT, pools, keep-alive
  await sleep(300);
  const one = await gen.load(url, { connections: 1, seconds: SECONDS, headers });
  const cpuBefore = treeCpuMs(target.roots());
  const many = await gen.load(url, { connections: CONNECTIONS, seconds: SECONDS, headers });
  const cpuMs = treeCpuMs(target.roots()) - cpuBefore;
  const loaded = treeMemory(target.roots());
  const errors = one.errors + many.errors;
  return {
    p50Us: one.latencyUs.p50,
    p99Us: one.latencyUs.p99,
    rps: many.rps,
    cpuUsPerRequest: many.requests ? (cpuMs * 1000) / many.requests : undefined,
    loadedRssMb: loaded.rssMb,
    loadedProcesses: loaded.processes,
    errors,
    /** Answers the load generator counted, over the three runs, and when the last run ended. */
    requests: warmup.requests + one.requests + many.requests,
    endedAt: Date.now(),
  };
}

/**
 * After the load runs: how many of the answered invocations have their result event in the event store, polled until
 * all have (at most 30 s), and how long after the last answer that was. The load generator may stop waiting for a few
 * calls in flight that hks still answers and records, so `recorded` can exceed `answered` by up to the connections.
 */
async function recording(hks, functionId, before, w) {
  const deadline = w.endedAt + 30_000;
  let recorded = (await hks.recorded(functionId)) - before;
  while (recorded < w.requests && Date.now() < deadline) {
    await sleep(50);
    recorded = (await hks.recorded(functionId)) - before;
  }
  return { recordedPct: (100 * Math.min(recorded, w.requests)) / w.requests, lost: Math.max(0, w.requests - recorded), lagMs: Date.now() - w.endedAt };
}

/** The process tree's memory after its first answer and a moment of rest. */
async function idleMemory(target) {
  await sleep(300);
  const m = treeMemory(target.roots());
  return { idleRssMb: m.rssMb, idleProcesses: m.processes };
}

/** Runs `fn` over `items`, `width` at a time, in order of start; stops starting new ones once `stop()` says so. */
async function pool(items, width, fn, stop = () => false) {
  const results = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length && !stop()) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: width }, worker));
  return results;
}

const lowOnMemory = () => memAvailableMb() < MIN_AVAILABLE_MB;
/** Set by SIGINT/SIGTERM: no new work is started while everything is being stopped. */

async function scaleHks(hks, n) {
  const began = Date.now();
  let failedDeploys = 0;
  const fns = await pool(
    Array.from({ length: n }, (_, i) => i),
    4,
    async (i) => {
      try {
        return await hks.deploy(`scale-${i}`);
      } catch (err) {
        failedDeploys++;
        if (failedDeploys <= 3) say(`  deploy scale-${i} failed: ${err.message}`);
        return undefined;
      }
    },
    () => bench.interrupted || lowOnMemory(),
  );
  const deployedAt = Date.now();
  const deployed = fns.filter(Boolean);
  say(
    `  ${deployed.length} deployed in ${((deployedAt - began) / 1000).toFixed(0)} s; calling each once (32 at a time, none started after ${SCALE_CALL_SECONDS} s)`,
  );
  const callDeadline = deployedAt + SCALE_CALL_SECONDS * 1000;
  const results = await pool(
    deployed,
    32,
    (fn) => call(fn.url, hks.auth),
    () => bench.interrupted || lowOnMemory() || Date.now() > callDeadline,
  );
  const called = results.filter(Boolean);
  const mem = treeMemory(hks.roots());
  const statuses = {};
  for (const r of called) if (r.status !== 200) statuses[r.status || r.error] = (statuses[r.status || r.error] || 0) + 1;
  return {
    deployed: deployed.length,
    failedDeploys,
    answered: called.filter((r) => r.status === 200).length,
    failed: called.length - called.filter((r) => r.status === 200).length,
    notCalled: n - called.length,
    statuses,
    ...mem,
    deploySeconds: (deployedAt - began) / 1000,
    callSeconds: (Date.now() - deployedAt) / 1000,
    stoppedForMemory: lowOnMemory(),
    stoppedForTime: called.length < deployed.length && Date.now() > callDeadline,
  };
}

/**
 * After the scale run: the functions' idle instances stop after their idle timeout (60 s by default), and what the
 * platform holds with every function deployed and scaled to zero is measured once the process count stops falling
 * (checked every 2 s, at most `--zero-seconds`, default 90 s).
 */
async function scaledToZero(hks) {
  const started = Date.now();
  const deadline = started + ZERO_SECONDS * 1000;
  let last = treeMemory(hks.roots());
  let steadySince = Date.now();
  while (Date.now() < deadline && !bench.interrupted) {
    await sleep(2000);
    const now = treeMemory(hks.roots());
    if (now.processes < last.processes) steadySince = Date.now();
    last = now;
    // Past the default idle timeout and nothing stopped for 10 s: scaled to zero as far as it goes.
    if (Date.now() - started > 70_000 && Date.now() - steadySince > 10_000) break;
  }
  return last;
}

async function scaleWorkerd(paths, dir, n) {
  const port = await freePort();
  fs.writeFileSync(
    path.join(dir, 'router.js'),
    `export default { fetch(request, env) { return env[new URL(request.url).pathname.slice(1)].fetch(request); } };\n`,
  );
  fs.writeFileSync(path.join(dir, 'scale.capnp'), workerdConfig(port, n));
  const began = Date.now();
  const peer = await startPeer('workerd', paths.workerd, ['serve', path.join(dir, 'scale.capnp')], port, '/fn0');
  const results = await pool(
    Array.from({ length: n }, (_, i) => i),
    32,
    (i) => call(`http://127.0.0.1:${port}/fn${i}`),
    () => bench.interrupted,
  );
  const mem = treeMemory(peer.roots);
  const wall = (Date.now() - began) / 1000;
  await peer.stop();
  const statuses = {};
  for (const r of results) if (r.status !== 200) statuses[r.status || r.error] = (statuses[r.status || r.error] || 0) + 1;
  const answered = results.filter((r) => r.status === 200).length;
  return { answered, failed: n - answered, statuses, ...mem, wallSeconds: wall };
}

// ---------------------------------------------------------------- the run

async function main() {
  say(`hks data plane vs peers  ${new Date().toISOString()}  ${os.cpus().length} CPU(s)  load average ${loadavg()}${QUICK ? '  (QUICK: a smoke run)' : ''}`);
  const useWrk = ensureWrk({ install: !flag('--no-install'), say });
  const gen = loadGenerator({ useWrk });
  say(`load generator: ${gen.name}; ${ROUNDS} interleaved round(s), ${SECONDS} s per load run, ${CONNECTIONS} connections for requests/s`);
  const paths = ensurePeers();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'hks-peers-'));
  cleanups.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  writeHelloWorlds(dir);

  say(
    'starting hks from dist/ twice (six services in one process, the local default; and a process per service), each in its own namespace, database, data dir and ports',
  );
  const hks = await startHks('one');
  const hksEach = await startHks('each');
  const variants = [hks, hksEach];
  const warms = [await hks.deploy('dataplane-warm'), await hksEach.deploy('dataplane-warm')];
  const peers = peerTargets(paths, dir);
  const names = [...variants.map((v) => v.name), ...peers.map((p) => p.name)];
  const rounds = names.map(() => []);

  for (let round = 0; round < ROUNDS; round++) {
    if (bench.interrupted) throw new Error('interrupted');
    for (let v = 0; v < variants.length; v++) {
      const target = variants[v];
      // hks: a freshly deployed function's first call, then the warm function under load.
      const fresh = await target.deploy(`dataplane-cold-${round}`);
      const first = await call(fresh.url, target.auth);
      if (first.status !== 200) throw new Error(`${target.name}: the first call of a fresh function answered ${first.status || first.error}`);
      // Idle: after a first answer, before any load. Only in the first round for hks: later rounds find the warm
      // function still scaled out from the load before it (its instances stay for the idle timeout, 60 s by default).
      const idle = round === 0 ? await idleMemory(target) : {};
      const before = await target.recorded(warms[v].id);
      const w = await measureWarm(gen, target, warms[v].url, target.auth);
      const rec = await recording(target, warms[v].id, before, w);
      rounds[v].push({ ...w, ...idle, ...rec, coldMs: first.ms, coldStartMs: Number(first.headers['x-start-ms']) });
      say(
        `  round ${round + 1}: ${target.name} p50 ${w.p50Us.toFixed(0)} us, ${w.rps.toFixed(0)} req/s, first call ${first.ms.toFixed(1)} ms; ` +
          `${w.requests} answered, ${rec.lost} without a result event, all recorded ${rec.lagMs} ms after the last answer`,
      );
    }
    for (let p = 0; p < peers.length; p++) {
      const peer = await peers[p].start();
      try {
        const target = { roots: () => peer.roots };
        const idle = await idleMemory(target);
        const m = await measureWarm(gen, target, peer.url, {});
        rounds[p + variants.length].push({ ...m, ...idle, coldMs: peer.coldMs });
        say(`  round ${round + 1}: ${peer.name} p50 ${m.p50Us.toFixed(0)} us, ${m.rps.toFixed(0)} req/s, start to first answer ${peer.coldMs.toFixed(1)} ms`);
      } finally {
        await peer.stop();
      }
    }
  }

  // The scale run has the machine to itself and the local default.
  await hksEach.stop();
  say(`scale run: ${FUNCTIONS} functions deployed and each called once (stops early if the machine has < ${MIN_AVAILABLE_MB} MB available)`);
  const scale = await scaleHks(hks, FUNCTIONS);
  const scaleW = await scaleWorkerd(paths, dir, FUNCTIONS);
  if (ZERO_SECONDS) say(`waiting for the ${scale.deployed} functions to scale to zero (idle timeout 60 s; at most ${ZERO_SECONDS} s)`);
  const zero = ZERO_SECONDS ? await scaledToZero(hks) : undefined;

  const med = (i, key) => median(rounds[i].map((r) => r[key]));
  const col = (key) => names.map((_, i) => med(i, key));
  const us = (v) => `${v.toFixed(0)} us`;
  const msF = (v) => `${v.toFixed(1)} ms`;
  const mb = (v) => `${v.toFixed(0)} MB`;
  const table = formatTable(names, [
    { label: 'warm p50, 1 connection', values: col('p50Us'), format: us },
    { label: 'warm p99, 1 connection', values: col('p99Us'), format: us },
    { label: `requests/s, ${CONNECTIONS} connections`, values: col('rps'), format: (v) => v.toFixed(0) },
    { label: 'CPU per request', values: col('cpuUsPerRequest'), format: us },
    { label: 'memory idle (RSS, process tree)', values: col('idleRssMb'), format: mb },
    { label: 'processes idle', values: col('idleProcesses'), format: (v) => v.toFixed(0) },
    { label: 'memory after the load runs (RSS)', values: col('loadedRssMb'), format: mb },
    { label: 'processes after the load runs', values: col('loadedProcesses'), format: (v) => v.toFixed(0) },
    { label: 'start from zero to first answer', values: col('coldMs'), format: msF },
    { label: 'answered invocations recorded', values: col('recordedPct'), format: (v) => `${v.toFixed(2)} %` },
    { label: 'recorded, after the last answer', values: col('lagMs'), format: (v) => `${v.toFixed(0)} ms` },
    // The scale run: hks (the local default) and workerd only.
    { label: `scale: ${FUNCTIONS} fns answered`, values: [scale.answered, undefined, scaleW.answered], format: (v) => v.toFixed(0) },
    { label: 'scale: calls failed', values: [scale.failed, undefined, scaleW.failed], format: (v) => v.toFixed(0) },
    { label: `scale: RSS after ${FUNCTIONS} calls`, values: [scale.rssMb, undefined, scaleW.rssMb], format: mb },
    { label: `scale: PSS after ${FUNCTIONS} calls`, values: [scale.pssMb, undefined, scaleW.pssMb], format: mb },
    { label: 'scale: processes', values: [scale.processes, undefined, scaleW.processes], format: (v) => v.toFixed(0) },
    { label: `${FUNCTIONS} fns scaled to zero: RSS`, values: [zero && zero.rssMb], format: mb },
    { label: `${FUNCTIONS} fns scaled to zero: PSS`, values: [zero && zero.pssMb], format: mb },
    { label: `${FUNCTIONS} fns scaled to zero: processes`, values: [zero && zero.processes], format: (v) => v.toFixed(0) },
  ]);
  say(`\nmedians of ${ROUNDS} interleaved round(s); ratios are hks/peer (above 1: hks takes more, except requests/s and answered)`);
  table.forEach((l) => say(l));
  say(
    `\nhks first call of a fresh function: invoker-measured start (x-start-ms) median ${med(0, 'coldStartMs').toFixed(1)} ms, client total ${med(0, 'coldMs').toFixed(1)} ms`,
  );
  say(
    `hks scale: ${scale.deployed}/${FUNCTIONS} deployed in ${scale.deploySeconds.toFixed(0)} s (${scale.failedDeploys} failed), called in ${scale.callSeconds.toFixed(0)} s: ` +
      `${scale.answered} answered 200, ${scale.failed} failed${scale.failed ? ` ${JSON.stringify(scale.statuses)}` : ''}${scale.notCalled ? `, ${scale.notCalled} not called` : ''}`,
  );
  if (zero) {
    say(
      `hks with ${scale.deployed} functions deployed and scaled to zero: ${zero.rssMb.toFixed(0)} MB RSS (${zero.pssMb.toFixed(0)} MB PSS) in ${zero.processes} processes; ` +
        `idle with one function and its warm worker it was ${med(0, 'idleRssMb').toFixed(0)} MB in ${med(0, 'idleProcesses')} processes`,
    );
  }
  if (scale.stoppedForTime) say(`  STOPPED EARLY: no call was started after ${SCALE_CALL_SECONDS} s of calling (--scale-seconds)`);
  if (scale.stoppedForMemory) say(`  STOPPED EARLY: the machine had less than ${MIN_AVAILABLE_MB} MB available`);
  if (scale.failed || scale.failedDeploys) say('  FINDING: some hks calls or deploys of the scale run failed (the platform, not the bench: see the statuses)');
  say(
    `workerd scale: ${FUNCTIONS} workers in one process, started and each called once in ${scaleW.wallSeconds.toFixed(1)} s: ${scaleW.answered} answered${scaleW.failed ? `, ${scaleW.failed} failed ${JSON.stringify(scaleW.statuses)}` : ''}`,
  );
  const errors = names.map((n, i) => [n, rounds[i].reduce((a, r) => a + r.errors, 0)]).filter(([, e]) => e);
  if (errors.length) say(`non-2xx or socket errors under load: ${errors.map(([n, e]) => `${n} ${e}`).join(', ')}`);
  const lost = variants.map((v, i) => [v.name, rounds[i].reduce((a, r) => a + r.lost, 0)]);
  say(
    `answered invocations without a result event after 30 s: ${lost.map(([n, l]) => `${n} ${l}`).join(', ')}${lost.some(([, l]) => l) ? '  FINDING: events lost' : ''}`,
  );
  say(`CPU per request is the target's own process tree (for hks: its six services and their workers; not RabbitMQ or Postgres)`);
  say(`load average at the end: ${loadavg()}`);
}

bench.run(main);
