#!/usr/bin/env node
'use strict';
/**
 * Asynchronous invocations (issue 11) at a steady offered rate: the whole platform from dist/ in its own namespace,
 * database, data dir and ports; a hello-world Node function; then, for each rate in turn, POST
 * /api/v1/functions/invoke/{id} with `Prefer: respond-async` and an X-Callback-Url pointing at a local receiver, sent
 * open-loop (on a 10 ms clock, whatever the answers do) for --seconds. Per rate it prints:
 *   - accepted/s: 202 answers per second of sending, and the other answers by status (429: the queue bound; 503);
 *   - accept latency p50/p99: request sent -> 202 read (the durable commit the gateway waits for);
 *   - end to end p50/p99: 202 read -> the signed callback received (queue, dispatch, the run, the callback POST);
 *   - unfinished: accepted but no callback after --drain seconds, and what the platform still lists queued/running.
 * The receiver runs in a worker thread so that receiving callbacks does not delay the sender's clock. Only 127.0.0.1
 * is called; everything started is stopped at the end, also on an error or Ctrl-C.
 *
 *   npm run build && npm run bench:async -- [--rates 200,500] [--seconds 20] [--drain 60] [--connections 256] [--processes one|each]
 */
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { Worker } = require('worker_threads');
const { Client } = require('pg');
const { startPlatform } = require('../tools/platform.js');
const { createBench } = require('./lib/run');
const { stats } = require('./lib/measure');

const args = process.argv.slice(2);
const value = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const RATES = String(value('--rates', '200,500'))
  .split(',')
  .map(Number)
  .filter((r) => r > 0);
const SECONDS = Number(value('--seconds', 20));
const DRAIN_SECONDS = Number(value('--drain', 60));
const CONNECTIONS = Number(value('--connections', 256));
const PROCESSES = value('--processes', 'one');
const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL || 'postgres://root@127.0.0.1:5432/postgres';
const HANDLER = 'module.exports.handle = async () => ({ ok: true });\n';
const TICK_MS = 10;

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const ms = (v) => (v === undefined ? '-' : `${v.toFixed(1)} ms`);
const loadavg = () =>
  os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');

/** Everything to undo at the end, last first. */
const bench = createBench();
const cleanups = bench.cleanups;

/** The callback receiver, in a worker thread: answers 204 and reports {id, status, at} in batches every 50 ms. */
const RECEIVER = `
const http = require('http');
const { parentPort } = require('worker_threads');
let batch = [];
const server = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => {
    batch.push({ id: String(req.headers['webhook-id'] || ''), status: String(req.headers['x-hks-status'] || ''), at: performance.timeOrigin + performance.now() });
    res.writeHead(204).end();
  });
});
server.keepAliveTimeout = 30000;
server.listen(0, '127.0.0.1', () => parentPort.postMessage({ port: server.address().port }));
setInterval(() => { if (batch.length) { parentPort.postMessage({ batch }); batch = []; } }, 50);
parentPort.on('message', (m) => { if (m === 'stop') { server.closeAllConnections(); server.close(() => process.exit(0)); } });
`;

async function startReceiver() {
  const worker = new Worker(RECEIVER, { eval: true });
  /** invocation id -> the callbacks received for it. */
  const received = new Map();
  const port = await new Promise((resolve, reject) => {
    worker.once('error', reject);
    worker.on('message', (m) => {
      if (m.port) resolve(m.port);
      for (const cb of m.batch || []) {
        if (!received.has(cb.id)) received.set(cb.id, []);
        received.get(cb.id).push(cb);
      }
    });
  });
  const stop = async () => {
    worker.postMessage('stop');
    await new Promise((r) => worker.once('exit', r));
  };
  cleanups.push(stop);
  return { url: `http://127.0.0.1:${port}/callback`, received };
}

async function startHks() {
  const gatewayMain = path.join(__dirname, '..', 'dist', 'apps', 'gateway', 'src', 'main.js');
  if (!fs.existsSync(gatewayMain)) throw new Error(`${gatewayMain} is missing: run \`npm run build\` first`);
  const suffix = `${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;
  const db = `hks_async_bench_${suffix}`;
  const admin = async (sql) => {
    const c = new Client({ connectionString: PG_ADMIN_URL });
    await c.connect();
    try {
      await c.query(sql);
    } finally {
      await c.end();
    }
  };
  await admin(`CREATE DATABASE "${db}"`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hks-async-bench-'));
  cleanups.push(async () => {
    await admin(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const dbUrl = Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${db}` }).toString();
  const platform = await startPlatform({
    processes: PROCESSES,
    env: { DATABASE_URL: dbUrl, HKS_NAMESPACE: `asyncb${suffix}`, HKS_DATA_DIR: dataDir, LOG_LEVEL: 'warn', INVOKER_PENDING_EVENT_AFTER_MS: '60000' },
    randomPorts: true,
    logDir: path.join(dataDir, 'logs'),
    readyTimeoutMs: 90_000,
  });
  cleanups.push(() => platform.stop());
  const auth = { authorization: `Bearer ${platform.adminKey}` };
  const api = async (method, url, body) => {
    const res = await fetch(platform.gatewayUrl + url, {
      method,
      headers: { ...auth, ...(body ? { 'content-type': 'application/json' } : {}) },
      body: body && JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
    return text ? JSON.parse(text) : undefined;
  };
  return { platform, auth, api };
}

/** Created, built and deployed through the public API; the queue bound raised so that the run measures the rate, not the bound. */
async function deployHello(api) {
  const fn = await api('POST', '/api/v1/functions', {
    label: 'async-bench-hello',
    runtime: 'node',
    template: 'node',
    handler: HANDLER,
    config: { scaling: { asyncQueueSize: 1_000_000 } },
  });
  await api('POST', `/api/v1/functions/build/${fn.id}`);
  for (let i = 0; ; i++) {
    const f = await api('GET', `/api/v1/functions/${fn.id}`);
    if (f.status === 'BUILT' || f.status === 'READY') break;
    if (f.status === 'FAILED') throw new Error(`building the function failed: ${f.statusReason}`);
    if (i > 1200) throw new Error('building the function took more than two minutes');
    await sleep(100);
  }
  await api('POST', `/api/v1/functions/deploy/${fn.id}`);
  for (let i = 0; ; i++) {
    const f = await api('GET', `/api/v1/functions/${fn.id}`);
    if (f.status === 'READY') return fn.id;
    if (i > 1200) throw new Error(`the function is ${f.status} two minutes after its deploy`);
    await sleep(100);
  }
}

/** One asynchronous invocation: resolves with {status, id, acceptMs, acceptedAt}; a socket error is status 0. */
function invokeAsync(agent, url, headers, body) {
  return new Promise((resolve) => {
    const sentAt = now();
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) }, timeout: 60_000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => {
        const acceptedAt = now();
        let id;
        if (res.statusCode === 202) {
          try {
            id = JSON.parse(Buffer.concat(chunks).toString()).invocationId;
          } catch {
            // counted below as a 202 without an id
          }
        }
        resolve({ status: res.statusCode, id, acceptMs: acceptedAt - sentAt, acceptedAt });
      });
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', () => resolve({ status: 0, acceptMs: now() - sentAt }));
    req.end(body);
  });
}

/** `rate` invocations per second for `seconds`, open-loop; then waits up to DRAIN_SECONDS for their callbacks. */
async function runAt(hks, fnId, receiver, rate, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const url = `${hks.platform.gatewayUrl}/api/v1/functions/invoke/${fnId}`;
  const headers = { ...hks.auth, 'content-type': 'application/json', prefer: 'respond-async', 'x-callback-url': receiver.url };
  const answers = [];
  const inFlight = new Set();
  const started = now();
  let sent = 0;
  for (let tick = 1; !bench.interrupted && now() - started < seconds * 1000; tick++) {
    // As many as the clock says by now: a late tick catches up instead of lowering the offered rate.
    const due = Math.floor((rate * (now() - started)) / 1000);
    for (; sent < due; sent++) {
      const p = invokeAsync(agent, url, headers, JSON.stringify({ data: { i: sent } })).then((a) => {
        answers.push(a);
        inFlight.delete(p);
      });
      inFlight.add(p);
    }
    const wait = started + tick * TICK_MS - now();
    if (wait > 0) await sleep(wait);
  }
  const sendSeconds = (now() - started) / 1000;
  await Promise.all(inFlight);
  agent.destroy();

  const accepted = answers.filter((a) => a.status === 202 && a.id);
  const byStatus = {};
  for (const a of answers) byStatus[a.status] = (byStatus[a.status] || 0) + 1;
  const drainBy = now() + DRAIN_SECONDS * 1000;
  const unfinished = () => accepted.filter((a) => !receiver.received.has(a.id)).length;
  while (!bench.interrupted && unfinished() > 0 && now() < drainBy) await sleep(200);

  const endToEnd = accepted.filter((a) => receiver.received.has(a.id)).map((a) => receiver.received.get(a.id)[0].at - a.acceptedAt);
  const lastCallback = Math.max(...accepted.filter((a) => receiver.received.has(a.id)).map((a) => receiver.received.get(a.id)[0].at));
  const notSucceeded = accepted.filter((a) => receiver.received.has(a.id) && receiver.received.get(a.id)[0].status !== 'succeeded').length;
  const twice = accepted.filter((a) => (receiver.received.get(a.id) || []).length > 1).length;
  const open = {};
  for (const status of ['queued', 'running']) {
    try {
      const page = await hks.api('GET', `/api/v1/invocations?functionId=${fnId}&status=${status}&limit=500`);
      open[status] = `${page.items.length}${page.next ? '+' : ''}`;
    } catch (err) {
      open[status] = `? (${err.message.slice(0, 120)})`;
    }
  }
  return {
    rate,
    sent,
    sendSeconds,
    byStatus,
    // Over the time the 202s took to come, not the time of sending: a platform that falls behind answers late.
    acceptedPerSecond: accepted.length ? accepted.length / ((Math.max(...accepted.map((a) => a.acceptedAt)) - started) / 1000) : 0,
    accept: stats(answers.filter((a) => a.status === 202).map((a) => a.acceptMs)),
    endToEnd: stats(endToEnd),
    callbacks: endToEnd.length,
    /** Callbacks per second, from the first send to the last callback. */
    completedPerSecond: endToEnd.length ? endToEnd.length / ((lastCallback - started) / 1000) : 0,
    unfinished: unfinished(),
    notSucceeded,
    twice,
    open,
  };
}

function print(r) {
  console.log(`\n${r.rate}/s offered for ${r.sendSeconds.toFixed(1)} s: ${r.sent} sent, answers ${JSON.stringify(r.byStatus)}`);
  console.log(`  accepted (202)              ${r.acceptedPerSecond.toFixed(0).padStart(6)}/s   from the first send to the last 202`);
  console.log(
    `  accept latency              p50 ${ms(r.accept.p50).padStart(10)}   p99 ${ms(r.accept.p99).padStart(10)}   (sent -> 202 read, n=${r.accept.n})`,
  );
  console.log(
    `  end to end                  p50 ${ms(r.endToEnd.p50).padStart(10)}   p99 ${ms(r.endToEnd.p99).padStart(10)}   (202 read -> callback received, n=${r.endToEnd.n})`,
  );
  console.log(`  completed (callbacks)       ${r.completedPerSecond.toFixed(0).padStart(6)}/s   from the first send to the last callback`);
  console.log(
    `  unfinished after ${DRAIN_SECONDS} s drain   ${String(r.unfinished).padStart(6)}      listed queued ${r.open.queued}, running ${r.open.running}; ` +
      `called back not succeeded ${r.notSucceeded}, more than once ${r.twice}`,
  );
}

async function main() {
  console.log(
    `async bench: rates ${RATES.join(', ')}/s for ${SECONDS} s each, drain ${DRAIN_SECONDS} s, ${CONNECTIONS} connections, HKS_PROCESSES=${PROCESSES}`,
  );
  console.log(`machine: ${os.cpus().length} CPUs, node ${process.version}, load average ${loadavg()}`);
  const receiver = await startReceiver();
  const hks = await startHks();
  const fnId = await deployHello(hks.api);
  // Warm-up (not reported): connections, JIT, the function's pool, the queue.
  const warm = await runAt(hks, fnId, receiver, 50, 2);
  console.log(`warm-up: 50/s for 2 s, answers ${JSON.stringify(warm.byStatus)}, ${warm.unfinished} unfinished`);
  const results = [];
  for (const rate of RATES) {
    if (bench.interrupted) break;
    const r = await runAt(hks, fnId, receiver, rate, SECONDS);
    print(r);
    results.push(r);
  }
  console.log(`\nload average at the end: ${loadavg()}`);
  const refused = results.reduce((n, r) => n + r.sent - (r.byStatus[202] || 0), 0);
  if (refused) {
    console.log(`FINDING: ${refused} requests answered other than 202 (see "answers")`);
    process.exitCode = 1;
  }
  if (results.some((r) => r.unfinished > 0)) {
    console.log('FINDING: accepted invocations without a callback after the drain (see "unfinished")');
    process.exitCode = 1;
  }
}

bench.run(main);
