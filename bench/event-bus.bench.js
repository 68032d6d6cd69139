#!/usr/bin/env node
'use strict';
/**
 * The event bus: (1) how many events per second EventPublisher hands to RabbitMQ as CloudEvents, one
 * persistent message per event, with publisher confirms awaited per batch, into a durable queue;
 * (2) how many events per second the event store's ingest path (EventSubscriber -> admitEvent ->
 * one unnest INSERT ... ON CONFLICT DO NOTHING per batch -> COMMIT -> one `multiple` ack) persists
 * from the bus into Postgres: N events are queued first, then the event store (from dist/) starts and
 * the clock runs from its first committed row to the last.
 *
 *   npm run build && node bench/event-bus.bench.js [--events 50000] [--batch 500] [--store-batch N] [--only publish|ingest]
 *
 * Own namespace and database, removed at the end; only RabbitMQ and Postgres are needed.
 */
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const amqplib = require('amqplib');
const { Client } = require('pg');
const { freePort } = require('../tools/platform.js');
const { waitHttp } = require('./lib/measure');

const ROOT = path.resolve(__dirname, '..');
const DIST = path.join(ROOT, 'dist');
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);
const EVENTS = option('--events', 50_000);
const BATCH = option('--batch', 500);
/** EVENT_STORE_BATCH_SIZE of the event store under test; the service's default when not given. */
const STORE_BATCH = option('--store-batch', undefined);
const ONLY = args.includes('--only') ? args[args.indexOf('--only') + 1] : undefined;
const AMQP_URL = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';
const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL || 'postgres://root@127.0.0.1:5432/postgres';

for (const built of ['libs/messaging/src/index.js', 'apps/event-store/src/main.js']) {
  if (!fs.existsSync(path.join(DIST, built))) throw new Error(`dist/${built} is missing: run \`npm run build\` first`);
}
const { AmqpConnection, EventPublisher } = require(path.join(DIST, 'libs/messaging/src'));
const { eventExchange, newEvent } = require(path.join(DIST, 'libs/contracts/src'));

/** An invocation result the size the invoker publishes for a small JSON function (about 700 bytes as a CloudEvent). */
function invocationEvent(functionId, label, i) {
  return newEvent({
    name: i % 10 === 0 ? 'invocation.failed' : 'invocation.succeeded',
    type: 'FUNCTION_INVOCATION',
    status: i % 10 === 0 ? 'FAILURE' : 'SUCCESS',
    source: 'invoker',
    functionId,
    functionLabel: label,
    invocationId: crypto.randomUUID(),
    payload: { orderId: i, items: [{ sku: 'A-1', qty: 2 }] },
    response: { ok: i % 10 !== 0, total: 42.5 },
    processingTimeMs: 1.25,
    error: i % 10 === 0 ? 'Error: out of stock' : null,
    metadata: {
      coldStart: false,
      startMs: null,
      workerId: 'w1',
      logs: `handled order ${i}\n`,
      trigger: 'api',
      version: 1,
      reason: null,
      statusCode: 200,
      deploymentId: functionId,
    },
  });
}

function settingsFor(namespace, dataDir) {
  return { HKS_NAMESPACE: namespace, AMQP_URL, HKS_DATA_DIR: dataDir, EVENT_PUBLISH_TIMEOUT_MS: 30_000 };
}

/**
 * Publishes `events` through EventPublisher, `batch` per publishMany, at most `inFlight` batches
 * unconfirmed at once (the invoker flushes a batch without waiting for the one before); answers
 * events/s and what was spooled.
 */
async function publishAll(publisher, events, batch, inFlight = 1) {
  const started = process.hrtime.bigint();
  let next = 0;
  const lane = async () => {
    while (next < events.length) {
      const from = next;
      next += batch;
      await publisher.publishMany(events.slice(from, from + batch));
    }
  };
  await Promise.all(Array.from({ length: inFlight }, lane));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { rate: events.length / seconds, seconds, spooled: await publisher.spooled() };
}

async function withBroker(fn) {
  const conn = await amqplib.connect(AMQP_URL);
  try {
    return await fn(await conn.createChannel());
  } finally {
    await conn.close();
  }
}

async function startEventStore(env, dataDir) {
  const port = await freePort();
  const log = fs.openSync(path.join(dataDir, 'event-store.log'), 'a');
  const child = spawn(process.execPath, [path.join(DIST, 'apps/event-store/src/main.js')], {
    env: { PATH: process.env.PATH, ...env, EVENT_STORE_PORT: String(port), LOG_LEVEL: 'warn', HKS_INTERNAL_TOKEN: crypto.randomBytes(32).toString('hex') },
    stdio: ['ignore', log, log],
  });
  const exited = new Promise((r) => child.once('exit', r));
  await waitHttp(`http://127.0.0.1:${port}/healthz`, 60_000).catch((err) => {
    child.kill('SIGKILL');
    throw new Error(`${err.message}; its log: ${fs.readFileSync(path.join(dataDir, 'event-store.log'), 'utf8').slice(-2000)}`);
  });
  return {
    async stop() {
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function main() {
  console.log(
    `hks event bus bench  ${new Date().toISOString()}  ${os.cpus().length} CPU(s)  load average ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}  ${EVENTS} events`,
  );
  const namespace = `hksbenchbus${Date.now().toString(36)}`;
  const exchange = eventExchange(namespace);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hks-bench-bus-'));
  const database = `hks_bench_bus_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: PG_ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${database}"`);
  const dbUrl = new URL(PG_ADMIN_URL);
  dbUrl.pathname = `/${database}`;
  const settings = settingsFor(namespace, dataDir);
  const connection = new AmqpConnection(settings);
  const publisher = new EventPublisher(connection, settings, 'bench');
  const ingestQueue = `${namespace}.event-store.events`;
  const benchQueue = `${namespace}.bench.published`;
  let store;
  try {
    // (1) Publishing into a durable queue, as the event store's, so the broker persists every message.
    await withBroker(async (ch) => {
      await ch.assertExchange(exchange, 'topic', { durable: true });
      await ch.assertQueue(benchQueue, { durable: true });
      await ch.bindQueue(benchQueue, exchange, '#');
    });
    const fn = crypto.randomUUID();
    if (ONLY !== 'ingest')
      await publishAll(
        publisher,
        Array.from({ length: 2000 }, (_, i) => invocationEvent(fn, 'bench-fn', i)),
        BATCH,
      ); // warm-up
    if (ONLY !== 'ingest')
      console.log(`\n(1) EventPublisher, one persistent CloudEvent message per event, confirms awaited per publishMany of ${BATCH}, into a durable queue`);
    for (const inFlight of ONLY === 'ingest' ? [] : [1, 4]) {
      const runs = [];
      for (let round = 0; round < 3; round++) {
        await withBroker((ch) => ch.purgeQueue(benchQueue));
        runs.push(
          await publishAll(
            publisher,
            Array.from({ length: EVENTS }, (_, i) => invocationEvent(fn, 'bench-fn', i)),
            BATCH,
            inFlight,
          ),
        );
      }
      const queued = await withBroker((ch) => ch.checkQueue(benchQueue));
      const best = runs.reduce((a, b) => (b.rate > a.rate ? b : a));
      console.log(
        `    ${inFlight} batch(es) in flight: ${runs.map((r) => `${r.rate.toFixed(0)}`).join(' / ')} events/s (3 runs of ${EVENTS}; best ${best.rate.toFixed(0)})  spooled: ${best.spooled}  queued after the last run: ${queued.messageCount}`,
      );
    }
    await withBroker((ch) => ch.deleteQueue(benchQueue));
    if (ONLY === 'publish') return;

    // (2) Ingest: N events waiting in the event store's queue, then the event store starts and drains it into Postgres.
    await withBroker(async (ch) => {
      await ch.assertExchange(`${exchange}.dlx`, 'fanout', { durable: true });
      await ch.assertQueue(ingestQueue, { durable: true, arguments: { 'x-dead-letter-exchange': `${exchange}.dlx` } });
      await ch.bindQueue(ingestQueue, exchange, '#');
    });
    const events = Array.from({ length: EVENTS }, (_, i) => invocationEvent(fn, 'bench-fn', i));
    await publishAll(publisher, events, BATCH);
    const waiting = (await withBroker((ch) => ch.checkQueue(ingestQueue))).messageCount;
    const db = new Client({ connectionString: dbUrl.toString() });
    store = await startEventStore(
      {
        ...settings,
        EVENT_PUBLISH_TIMEOUT_MS: '5000',
        DATABASE_URL: dbUrl.toString(),
        ...(STORE_BATCH ? { EVENT_STORE_BATCH_SIZE: String(STORE_BATCH) } : {}),
      },
      dataDir,
    );
    await db.connect();
    const count = async () => (await db.query('SELECT count(*)::int AS n FROM events.events').catch(() => ({ rows: [{ n: 0 }] }))).rows[0].n;
    let first;
    let n = 0;
    const deadline = Date.now() + 300_000;
    while ((n = await count()) < EVENTS) {
      if (n > 0 && !first) first = { at: process.hrtime.bigint(), n };
      if (Date.now() > deadline) throw new Error(`only ${n} of ${EVENTS} events stored after 5 minutes`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const done = process.hrtime.bigint();
    const seconds = Number(done - first.at) / 1e9;
    const batches = (await db.query('SELECT count(DISTINCT recorded_at)::int AS b FROM events.events')).rows[0].b;
    await db.end();
    console.log(
      `\n(2) event store ingest from the bus into Postgres (EVENT_STORE_BATCH_SIZE ${STORE_BATCH ?? 'default'}), ${waiting} CloudEvents queued before it started`,
    );
    console.log(
      `    ${((EVENTS - first.n) / seconds).toFixed(0)} events/s persisted (${EVENTS - first.n} rows committed in ${seconds.toFixed(2)} s after the first ${first.n}; ${batches} transactions)`,
    );
  } finally {
    await store?.stop();
    await publisher.beforeApplicationShutdown();
    await connection.onApplicationShutdown();
    await withBroker(async (ch) => {
      for (const q of [ingestQueue, benchQueue, `${exchange}.dead`, `${namespace}.rpc.event-store`]) await ch.deleteQueue(q);
      await ch.deleteExchange(exchange);
      await ch.deleteExchange(`${exchange}.dlx`);
    }).catch((err) => console.error(`cleaning the broker up: ${err.message}`));
    await admin.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
    await admin.end();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}

main().catch((err) => {
  console.error(`bench failed: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
