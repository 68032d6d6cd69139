#!/usr/bin/env node
'use strict';
/**
 * (A) Posted events through the gateway: POST /api/v3/events from N keep-alive connections for a fixed time, first
 * one event per post (the JSON form), then CloudEvents batches (application/cloudevents-batch+json, --batch events
 * each). For each: events/s acknowledged (201), the latency of one post, the ingest lag from each answer to its
 * row's recorded_at (p50/p99) and, from a probe that posts one event every 200 ms and GETs it by id until found, the
 * lag a client sees; and lost = acknowledged - stored (must be 0; the table's primary key makes "stored twice" impossible).
 * (B) Invocation events as the invoker publishes them (EventPublisher.publishMany, one CloudEvent per result) at a
 * target rate onto the platform's bus: the rate the event store recorded them at, their ingest lag, and "lost: 0".
 *
 *   npm run build && node bench/events-rate.bench.js [--connections 16] [--seconds 10] [--batch 100] [--invocations 50000] [--rate 10000]
 *   (--invocations 0 skips part B)
 *
 * Starts the six services from dist/ (tools/platform.js) in their own namespace, database and data dir, and
 * removes them at the end; RabbitMQ, Postgres and Redis must be running.
 */
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const { Client } = require('pg');
const { startPlatform } = require('../tools/platform.js');
const { stats } = require('./lib/measure');

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const CONNECTIONS = option('--connections', 16);
const SECONDS = option('--seconds', 10);
const INVOCATIONS = option('--invocations', 50_000);
const RATE = option('--rate', 10_000);
const BATCH = option('--batch', 100);
const DIST = path.resolve(__dirname, '..', 'dist');
const AMQP_URL = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const REDIS_URL = process.env.REDIS_URL || 'redis://127.0.0.1:6379';
const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL || 'postgres://root@127.0.0.1:5432/postgres';

const suffix = `${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;
const DB = `hks_bench_${suffix}`;
const dbUrl = () => Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${DB}` }).toString();

async function admin(sql) {
  const c = new Client({ connectionString: PG_ADMIN_URL });
  await c.connect();
  try {
    await c.query(sql);
  } finally {
    await c.end();
  }
}

/** One POST on the agent; resolves with {status, body, us, at} (at: Date.now() when the answer was read). */
function post(agent, url, headers, body) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(url, { method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString(), us: Number(process.hrtime.bigint() - started) / 1000, at: Date.now() }),
      );
    });
    req.on('error', reject);
    req.end(body);
  });
}

function get(agent, url, headers) {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode));
    });
    req.on('error', reject);
  });
}

/**
 * CONNECTIONS loops posting until the time is up, each post one event (JSON form) or, with `batch`, a
 * CloudEvents batch of that many. Answers the acknowledged ids with the time of their answer, the latencies
 * and the other answers.
 */
async function load(gatewayUrl, adminKey, type, batch = 0) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const headers = {
    'content-type': batch ? 'application/cloudevents-batch+json' : 'application/json',
    authorization: `Bearer ${adminKey}`,
  };
  const url = `${gatewayUrl}/api/v3/events`;
  const answered = new Map();
  const latencies = [];
  const failures = new Map();
  const until = Date.now() + SECONDS * 1000;
  const started = process.hrtime.bigint();
  let n = 0;
  const one = () => ({ type, payload: { n: n++, order: { sku: 'A-1', qty: 2 } } });
  const cloudEvent = () => ({ specversion: '1.0', id: crypto.randomUUID(), source: 'bench', type, data: one().payload });
  const lane = async () => {
    while (Date.now() < until) {
      const body = JSON.stringify(batch ? Array.from({ length: batch }, cloudEvent) : one());
      const r = await post(agent, url, headers, body);
      if (r.status === 201) {
        const got = JSON.parse(r.body);
        for (const e of Array.isArray(got) ? got : [got]) answered.set(e.id, r.at);
        latencies.push(r.us);
      } else {
        const key = `${r.status} ${r.body.slice(0, 120)}`;
        failures.set(key, (failures.get(key) || 0) + 1);
      }
    }
  };
  // Alongside: one event posted every 200 ms and GET by id every 5 ms until it is there, the lag a client sees
  // (sparse, so that its own GETs, an RPC each, hardly load the run).
  const queryable = [];
  const probe = async () => {
    const probeAgent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    while (Date.now() < until) {
      const r = await post(
        probeAgent,
        url,
        { 'content-type': 'application/json', authorization: headers.authorization },
        JSON.stringify({ type: `${type}.probe` }),
      );
      if (r.status === 201) {
        const id = JSON.parse(r.body).id;
        while ((await get(probeAgent, `${url}/${id}`, { authorization: headers.authorization })) !== 200) await new Promise((res) => setTimeout(res, 5));
        queryable.push(Date.now() - r.at);
      }
      await new Promise((res) => setTimeout(res, 200));
    }
    probeAgent.destroy();
  };
  await Promise.all([...Array.from({ length: CONNECTIONS }, lane), probe()]);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  agent.destroy();
  return { answered, latencies, failures, seconds, queryable };
}

/** Waits until every acknowledged event is stored (or a settle time passes); the lag from each answer to its row's recorded_at. */
async function stored(pg, type, answered) {
  const deadline = Date.now() + 30_000;
  let rows = [];
  for (;;) {
    rows = (await pg.query('SELECT id, extract(epoch FROM recorded_at) * 1000 AS at FROM events.events WHERE type = $1', [type])).rows;
    if (rows.length >= answered.size || Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  const lags = [];
  let found = 0;
  for (const row of rows) {
    const at = answered.get(row.id);
    if (at === undefined) continue;
    found++;
    lags.push(Number(row.at) - at);
  }
  return { found, rows: rows.length, lag: stats(lags) };
}

async function postedRun(platform, pg, label, type, batch) {
  const run = await load(platform.gatewayUrl, platform.adminKey, type, batch);
  const latency = stats(run.latencies);
  const rate = Math.round(run.answered.size / run.seconds);
  console.log(
    `${label}: ${run.answered.size} events acknowledged (201) in ${run.seconds.toFixed(1)} s over ${CONNECTIONS} connections = ${rate} events/s` +
      (batch ? ` (${run.latencies.length} posts)` : ''),
  );
  console.log(`  post latency: p50 ${(latency.p50 / 1000).toFixed(1)} ms, p99 ${(latency.p99 / 1000).toFixed(1)} ms`);
  for (const [answer, count] of run.failures) console.log(`  not 201 (${count}x): ${answer}`);
  const s = await stored(pg, type, run.answered);
  const q = stats(run.queryable);
  console.log(`  ingest lag, answer -> row recorded (recorded_at): p50 ${s.lag.p50.toFixed(1)} ms, p99 ${s.lag.p99.toFixed(1)} ms`);
  console.log(`  ingest lag, answer -> GET /api/v3/events/{id} finds it (${q.n} probes): p50 ${q.p50} ms, p99 ${q.p99} ms`);
  console.log(`  stored: ${s.found} of ${run.answered.size} acknowledged (${s.rows} rows of the type); lost: ${run.answered.size - s.found}`);
  if (s.found !== run.answered.size) process.exitCode = 1;
  return rate;
}

async function main() {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hks-bench-'));
  await admin(`CREATE DATABASE "${DB}"`);
  let platform;
  const pg = new Client({ connectionString: dbUrl() });
  try {
    platform = await startPlatform({
      env: { HKS_NAMESPACE: `hksb${suffix}`, AMQP_URL, REDIS_URL, HKS_DATA_DIR: dataDir, DATABASE_URL: dbUrl(), LOG_LEVEL: 'warn' },
      randomPorts: true,
      logDir: path.join(dataDir, 'logs'),
      readyTimeoutMs: 90_000,
    });
    await pg.connect();
    const type = `bench.rate.${suffix}`;
    // Warm-up: connections, JIT, pools.
    await loadFor(platform, `${type}.warm`, 2);
    await postedRun(platform, pg, 'single posts', `${type}.single`, 0);
    await postedRun(platform, pg, `batches of ${BATCH}`, `${type}.batch`, BATCH);

    if (INVOCATIONS > 0) {
      const invocations = await invocationEvents(platform, pg, dataDir);
      console.log(
        `\ninvocation events: ${INVOCATIONS} published at ${Math.round(invocations.published)}/s (target ${RATE}/s), recorded at ${Math.round(invocations.recorded)}/s`,
      );
      console.log(
        `ingest lag (recorded_at - timestamp): p50 ${invocations.p50.toFixed(1)} ms, p99 ${invocations.p99.toFixed(1)} ms, max ${invocations.max.toFixed(1)} ms`,
      );
      console.log(`lost: ${INVOCATIONS - invocations.stored}`);
      if (invocations.stored !== INVOCATIONS) process.exitCode = 1;
    }
  } finally {
    await pg.end().catch(() => undefined);
    if (platform) await platform.stop();
    await admin(`DROP DATABASE IF EXISTS "${DB}" WITH (FORCE)`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

/** An invocation result the size the invoker publishes for a small JSON function. */
function invocationEvent(newEvent, functionId, i) {
  return newEvent({
    name: 'invocation.succeeded',
    type: 'FUNCTION_INVOCATION',
    status: 'SUCCESS',
    source: 'invoker',
    functionId,
    functionLabel: 'bench-fn',
    invocationId: crypto.randomUUID(),
    payload: { orderId: i, items: [{ sku: 'A-1', qty: 2 }] },
    response: { ok: true, total: 42.5 },
    processingTimeMs: 1.25,
    metadata: { coldStart: false, workerId: 'w1', logs: `handled order ${i}\n`, trigger: 'api', version: 1, statusCode: 200 },
  });
}

/** Publishes INVOCATIONS invocation events at RATE/s (a publishMany every 10 ms), then waits for all to be stored. */
async function invocationEvents(platform, pg, dataDir) {
  const { AmqpConnection, EventPublisher } = require(path.join(DIST, 'libs/messaging/src'));
  const { newEvent } = require(path.join(DIST, 'libs/contracts/src'));
  const settings = { HKS_NAMESPACE: platform.env.HKS_NAMESPACE, AMQP_URL, HKS_DATA_DIR: dataDir, EVENT_PUBLISH_TIMEOUT_MS: 30_000 };
  const connection = new AmqpConnection(settings);
  const publisher = new EventPublisher(connection, settings, 'bench');
  const functionId = crypto.randomUUID();
  try {
    const perTick = Math.max(1, Math.round(RATE / 100));
    const started = Date.now();
    const inFlight = [];
    for (let sent = 0, tick = 0; sent < INVOCATIONS; tick++) {
      // Each event is made when it is sent, so its timestamp is the moment the invoker would have published it.
      const batch = Array.from({ length: Math.min(perTick, INVOCATIONS - sent) }, (_, i) => invocationEvent(newEvent, functionId, sent + i));
      sent += batch.length;
      inFlight.push(publisher.publishMany(batch));
      // Confirms pace the publisher, as they pace the invoker: events waiting in this process's socket buffer would count as ingest lag.
      if (inFlight.length >= 8) await inFlight.shift();
      const wait = started + (tick + 1) * 10 - Date.now();
      if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    }
    await Promise.all(inFlight);
    const published = INVOCATIONS / ((Date.now() - started) / 1000);
    const deadline = Date.now() + 60_000;
    let stored = 0;
    for (;;) {
      stored = (await pg.query('SELECT count(*)::int AS n FROM events.events WHERE function_id = $1', [functionId])).rows[0].n;
      if (stored >= INVOCATIONS || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const { rows } = await pg.query(
      `SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY ms) AS p50, percentile_cont(0.99) WITHIN GROUP (ORDER BY ms) AS p99, max(ms) AS max,
              extract(epoch FROM max(recorded_at) - min(timestamp)) AS seconds
       FROM (SELECT recorded_at, timestamp, extract(epoch FROM recorded_at - timestamp) * 1000 AS ms FROM events.events WHERE function_id = $1) lag`,
      [functionId],
    );
    return { published, recorded: stored / Number(rows[0].seconds), stored, p50: Number(rows[0].p50), p99: Number(rows[0].p99), max: Number(rows[0].max) };
  } finally {
    await publisher.onApplicationShutdown();
    await connection.onApplicationShutdown();
  }
}

async function loadFor(platform, type, seconds) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${platform.adminKey}` };
  const until = Date.now() + seconds * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (Date.now() < until) await post(agent, `${platform.gatewayUrl}/api/v3/events`, headers, JSON.stringify({ type }));
    }),
  );
  agent.destroy();
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
