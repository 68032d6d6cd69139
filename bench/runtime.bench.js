#!/usr/bin/env node
'use strict';
/**
 * The local runtime's speed, as ratios against baselines measured in the same run on this machine:
 *   - cold start from zero (p50/p99) of a Node and a Python function, next to a bare `node -e 0` and
 *     `python3 -c 0` process start;
 *   - warm invocation latency (p50/p99, one keep-alive connection, sequential) next to a direct call to
 *     a plain Node http server;
 *   - requests/s (a load generator in its own process, keep-alive connections) as a fraction of that
 *     direct server.
 * By default the real platform is started from dist/ (six services, a throwaway database and
 * namespace) and functions are created, built, deployed and invoked through the gateway. With
 * --invoker-only (or when the gateway is not built), only the invoker runs and is called directly:
 * the output says so on every line that it concerns.
 *
 *   npm run build && node bench/runtime.bench.js [--invoker-only] [--cold 30] [--warm 2500] [--seconds 5] [--connections 16]
 */
const { spawn, spawnSync } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { freePort } = require('../tools/platform.js');
const { startFullPlatform: startPlatformUnderTest } = require('./lib/platform-under-test');
const { deployFunction, startInvokerAlone } = require('./lib/invoker-alone');
const measure = require('./lib/measure');
const { stats, waitHttp } = measure;

const ROOT = path.resolve(__dirname, '..');
const args = process.argv.slice(2);
const flag = (name) => args.includes(name);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const COLD_N = option('--cold', 30);
const WARM_N = option('--warm', 2500);
const SECONDS = option('--seconds', 5);
const CONNECTIONS = option('--connections', 16);
const ROUNDS = 5;
// The services' internal credential: the bench calls the invoker directly, as the gateway does.
process.env.HKS_INTERNAL_TOKEN = process.env.HKS_INTERNAL_TOKEN || crypto.randomBytes(32).toString('hex');
const INTERNAL = { 'x-hks-internal-token': process.env.HKS_INTERNAL_TOKEN };

const NODE_HANDLER = 'module.exports.handle = async () => ({ ok: true });\n';
const PYTHON_HANDLER = "def handle(request):\n    return {'ok': True}\n";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ms = (v) => `${v.toFixed(v < 1 ? 3 : 1)} ms`;
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** The admin API key of the platform under test (its first start wrote it). */
let adminKey;
const auth = () => (adminKey ? { authorization: `Bearer ${adminKey}` } : {});

async function api(base, method, url, body) {
  const headers = { ...INTERNAL, ...auth(), ...(body ? { 'content-type': 'application/json' } : {}) };
  const res = await fetch(base + url, { method, headers, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return json;
}

/** One request to the platform, with its credentials. */
const timed = (agent, url, method = 'GET') => measure.timed(agent, url, { method, headers: { ...INTERNAL, ...auth() } });

function processStarts(cmd, cmdArgs, n) {
  const times = [];
  for (let i = 0; i < n; i++) {
    const t = process.hrtime.bigint();
    const r = spawnSync(cmd, cmdArgs, { env: { PATH: '/usr/bin:/bin' }, stdio: 'ignore' });
    if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} failed`);
    times.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  return stats(times);
}

async function startDirectServer() {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      '-e',
      `require('http').createServer((q, s) => { const b = Buffer.from('{"ok":true}'); q.resume(); s.writeHead(200, {'content-type': 'application/json', 'content-length': b.length}); s.end(b); }).listen(${port}, '127.0.0.1')`,
    ],
    { stdio: 'ignore' },
  );
  await waitHttp(`http://127.0.0.1:${port}/`);
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill() };
}

/**
 * Calibration: one minimal Node proxy hop (http.request + pipe over a keep-alive agent) in front of the
 * direct server. It shows what a single extra process hop costs on this machine, whatever the platform does.
 */
async function startMinimalProxy(targetUrl) {
  const port = await freePort();
  const t = new URL(targetUrl);
  const code = `const http=require('http');const agent=new http.Agent({keepAlive:true});http.createServer((req,res)=>{const up=http.request({host:'${t.hostname}',port:${t.port},method:req.method,path:req.url,headers:req.headers,agent},(a)=>{res.writeHead(a.statusCode,a.headers);a.pipe(res)});req.pipe(up)}).listen(${port},'127.0.0.1')`;
  const child = spawn(process.execPath, ['-e', code], { stdio: 'ignore' });
  await waitHttp(`http://127.0.0.1:${port}/`);
  return { url: `http://127.0.0.1:${port}/`, stop: () => child.kill() };
}

function loadGenerator(url) {
  const r = spawnSync(process.execPath, [path.join(__dirname, 'lib', 'load-generator.js'), url, String(CONNECTIONS), String(SECONDS)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`load generator failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

/** Invoker only: bundles written to the artifact store, deployments PUT on the invoker. */
async function startInvokerOnly() {
  // With the invoker's default event journal, as a user runs it.
  const inv = await startInvokerAlone({
    dist: path.join(ROOT, 'dist'),
    name: 'bench',
    token: process.env.HKS_INTERNAL_TOKEN,
    env: { INVOKER_EVENT_JOURNAL: 'write' },
    lifetimeMs: 30 * 60_000,
  });
  return {
    invokerUrl: inv.base,
    async deploy(label, family, handler, config) {
      const file = family === 'python' ? 'handler.py' : 'handler.js';
      // Only what differs from the defaults: the invoker fills in the rest of the config (normalizeConfig).
      const functionId = await deployFunction(inv, process.env.HKS_INTERNAL_TOKEN, {
        label,
        family,
        entrypoint: 'handler.*',
        files: { [file]: handler },
        config,
      });
      return { functionId, url: `${inv.base}/invoke/${label}` };
    },
    stop: () => inv.stop(),
  };
}

/** The whole platform from dist/: functions created, built and deployed through the gateway. */
async function startFullPlatform() {
  const platform = await startPlatformUnderTest({ internal: INTERNAL });
  adminKey = platform.adminKey;
  return { ...platform, deploy: (label, family, handler, config) => platform.deploy(label, family, handler, config, family) };
}

async function poolState(invokerUrl, functionId) {
  const s = await api(invokerUrl, 'GET', '/deployments');
  return { pool: s.deployments.find((d) => d.functionId === functionId), prewarm: s.prewarm };
}

/** Cold starts from zero instances, each with a prewarmed worker of the runtime waiting (as in steady state). */
async function coldStarts(target, fn, family, n) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const client = [];
  const start = [];
  while (client.length < n) {
    for (let i = 0; ; i++) {
      const { pool, prewarm } = await poolState(target.invokerUrl, fn.functionId);
      if ((!pool || pool.instances + pool.starting === 0) && prewarm[family].idle >= 1 && prewarm[family].starting === 0) break;
      if (i > 300) throw new Error(`${family} pool did not go back to zero instances`);
      await sleep(50);
    }
    await sleep(100); // let the machine settle after the refill
    const r = await timed(agent, fn.url);
    if (r.status !== 200) throw new Error(`cold invocation answered ${r.status}`);
    if (r.headers['x-cold-start'] !== 'true') continue; // served warm after all: not a cold start sample
    client.push(r.us / 1000);
    start.push(Number(r.headers['x-start-ms']));
  }
  agent.destroy();
  return { client: stats(client), start: stats(start) };
}

const warmLatency = (urls) => measure.warmLatency(urls, { n: WARM_N, rounds: ROUNDS, headers: () => ({ ...INTERNAL, ...auth() }) });

async function main() {
  const gatewayBuilt = fs.existsSync(path.join(ROOT, 'dist', 'apps', 'gateway', 'src', 'main.js'));
  const invokerOnly = flag('--invoker-only') || !gatewayBuilt;
  const via = invokerOnly ? 'via invoker (INVOKER-ONLY)' : 'via gateway';
  const cpus = os.cpus().length;
  console.log(`hks runtime bench  ${new Date().toISOString()}  ${cpus} CPU(s)  load average ${loadavg()}`);
  if (invokerOnly) {
    console.log(
      `MODE: invoker only${gatewayBuilt ? '' : ' (dist/apps/gateway is not built)'}: requests go straight to the invoker; no gateway hop is measured`,
    );
  } else console.log('MODE: full platform from dist/ (gateway -> invoker -> sandboxed workers; events through RabbitMQ to the event store)');

  const nodeStart = processStarts('/usr/bin/node', ['-e', '0'], 20);
  const pythonStart = processStarts('/usr/bin/python3', ['-c', '0'], 20);
  const direct = await startDirectServer();
  const oneHop = await startMinimalProxy(direct.url);
  const target = invokerOnly ? await startInvokerOnly() : await startFullPlatform();
  try {
    const coldConfig = { scaling: { minInstances: 0, idleTimeoutMs: 100 } };
    const nodeCold = await target.deploy('bench-node-cold', 'node', NODE_HANDLER, coldConfig);
    const pythonCold = await target.deploy('bench-python-cold', 'python', PYTHON_HANDLER, coldConfig);
    const warm = await target.deploy('bench-node-warm', 'node', NODE_HANDLER, { scaling: { minInstances: 1, maxInstances: 1, concurrency: 64 } });

    const coldNode = await coldStarts(target, nodeCold, 'node', COLD_N);
    const coldPython = await coldStarts(target, pythonCold, 'python', COLD_N);
    // Through the gateway, the invoker is also measured on its own: the two hops' shares are then visible.
    const urls = [direct.url, oneHop.url, warm.url, ...(warm.invokerUrl ? [warm.invokerUrl] : [])];
    const [latDirect, latHop, latPlatform, latInvoker] = await warmLatency(urls);
    const runs = urls.map(() => []);
    for (let round = 0; round < 2; round++) urls.forEach((u, i) => runs[i].push(loadGenerator(u)));
    const best = (list) => list.reduce((a, b) => (b.rps > a.rps ? b : a));
    const [d, h, p, pi] = runs.map(best);

    const row = (name, s, extra = '') => console.log(`  ${name.padEnd(44)} p50 ${ms(s.p50).padStart(10)}   p99 ${ms(s.p99).padStart(10)}   ${extra}`);
    console.log(`\ncold start from zero instances (n=${COLD_N} each; target p50 <= 10 ms)`);
    row(`node function ${via}`, coldNode.client, `(invoker-measured start: p50 ${ms(coldNode.start.p50)})`);
    row('bare `node -e 0`', nodeStart, `node function p50 = ${((100 * coldNode.client.p50) / nodeStart.p50).toFixed(0)}% of a process start`);
    row(`python function ${via}`, coldPython.client, `(invoker-measured start: p50 ${ms(coldPython.start.p50)})`);
    row('bare `python3 -c 0`', pythonStart, `python function p50 = ${((100 * coldPython.client.p50) / pythonStart.p50).toFixed(0)}% of a process start`);

    const toMs = (s) => ({ p50: s.p50 / 1000, p99: s.p99 / 1000 });
    const over = (s) => `overhead p50 ${(s.p50 - latDirect.p50).toFixed(0)} us (${(s.p50 / latDirect.p50).toFixed(2)}x direct)`;
    console.log(
      `\nwarm invocation latency (one keep-alive connection, sequential, n=${WARM_N} each, ${ROUNDS} alternating rounds; target overhead p50 <= 250 us)`,
    );
    row('direct call to a plain node http server', toMs(latDirect));
    row('  calibration: one minimal node proxy hop', toMs(latHop), over(latHop));
    row(`node function ${via}`, toMs(latPlatform), over(latPlatform));
    if (latInvoker) row('  same function, invoker called directly', toMs(latInvoker), over(latInvoker));

    console.log(`\nthroughput (${CONNECTIONS} keep-alive connections, ${SECONDS} s, load generator in its own process, best of 2; target >= 40% of direct)`);
    console.log(
      `  ${'direct call to a plain node http server'.padEnd(44)} ${d.rps.toFixed(0).padStart(8)} req/s   p50 ${(d.latencyUs.p50 / 1000).toFixed(2)} ms`,
    );
    const rpsRow = (name, r) =>
      console.log(
        `  ${name.padEnd(44)} ${r.rps.toFixed(0).padStart(8)} req/s   p50 ${(r.latencyUs.p50 / 1000).toFixed(2)} ms   = ${((100 * r.rps) / d.rps).toFixed(0)}% of direct` +
          (r.errors ? `   (${r.errors} errors: ${JSON.stringify(r.statuses)})` : ''),
      );
    rpsRow('  calibration: one minimal node proxy hop', h);
    rpsRow(`node function ${via}`, p);
    if (pi) rpsRow('  same function, invoker called directly', pi);
    console.log(`\nload average at the end: ${loadavg()}`);
  } finally {
    direct.stop();
    oneHop.stop();
    await target.stop();
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err && err.stack ? err.stack : err}`);
  if (!flag('--invoker-only'))
    console.error('(to measure the invoker alone while the rest of the platform is not ready: node bench/runtime.bench.js --invoker-only)');
  process.exit(1);
});
