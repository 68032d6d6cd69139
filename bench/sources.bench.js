#!/usr/bin/env node
'use strict';
/**
 * Event sources (issue 12): messages/s from each source into a trivial function. The whole platform from dist/ in its
 * own namespace, database, data dir and ports; one Node function per source (a RabbitMQ queue, a NATS JetStream
 * stream, an MQTT topic at QoS 1, custom events, the S3 webhook), each with batch_size 100. For each source in turn,
 * --messages messages are published as fast as a plain client of that system takes them; then it prints:
 *   - published/s: how fast the client handed them over (broker confirms, QoS 1 PUBACKs, 201/200 answers);
 *   - accepted/s: first message published -> the last one committed as an invocation (deployer.invocations);
 *   - ran/s: first message published -> the last invocation succeeded (its run recorded by the dispatcher).
 * As a baseline in the same run: the same number of asynchronous invocations through the API (Prefer: respond-async).
 * Only 127.0.0.1 is called; everything started is stopped (streams, queues, the database) also on an error or Ctrl-C.
 *
 *   npm run build && node bench/sources.bench.js [--messages 2000] [--only queue,nats,mqtt,event,s3,api]
 */
const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const os = require('os');
const path = require('path');
const amqplib = require('amqplib');
const mqtt = require('mqtt');
const { connect: connectNats, StringCodec } = require('nats');
const { Client } = require('pg');
const { startPlatform } = require('../tools/platform.js');
const { createBench } = require('./lib/run');

const args = process.argv.slice(2);
const value = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const MESSAGES = Number(value('--messages', 2000));
const ONLY = String(value('--only', 'api,queue,nats,mqtt,event,s3')).split(',');
const PG_ADMIN_URL = process.env.TEST_PG_ADMIN_URL || 'postgres://root@127.0.0.1:5432/postgres';
const NATS_URL = process.env.NATS_URL || 'nats://127.0.0.1:4222';
const MQTT_URL = process.env.MQTT_URL || 'mqtt://127.0.0.1:1883';
const HANDLER = 'module.exports.handle = async () => ({ ok: true });\n';
const BATCH = { batchSize: 100, maxBatchWaitMs: 20 };

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const bench = createBench();
const cleanups = bench.cleanups;

async function sql(url, text, params) {
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(text, params)).rows;
  } finally {
    await c.end();
  }
}

async function startHks() {
  const suffix = `${Date.now().toString(36)}${crypto.randomBytes(3).toString('hex')}`;
  const db = `hks_sources_bench_${suffix}`;
  await sql(PG_ADMIN_URL, `CREATE DATABASE "${db}"`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hks-sources-bench-'));
  cleanups.push(async () => {
    await sql(PG_ADMIN_URL, `DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  const dbUrl = Object.assign(new URL(PG_ADMIN_URL), { pathname: `/${db}` }).toString();
  const namespace = `srcb${suffix}`;
  const platform = await startPlatform({
    env: { DATABASE_URL: dbUrl, HKS_NAMESPACE: namespace, HKS_DATA_DIR: dataDir, LOG_LEVEL: 'warn', INVOKER_PENDING_EVENT_AFTER_MS: '60000' },
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
  return { platform, auth, api, dbUrl, namespace };
}

async function deploy(api, label, triggers) {
  const fn = await api('POST', '/api/v1/functions', {
    label,
    runtime: 'node',
    template: 'node',
    handler: HANDLER,
    config: { triggers, scaling: { asyncQueueSize: 1_000_000 } },
  });
  await api('POST', `/api/v1/functions/build/${fn.id}`);
  for (let i = 0; ; i++) {
    const f = await api('GET', `/api/v1/functions/${fn.id}`);
    if (f.status === 'BUILT' || f.status === 'READY') break;
    if (f.status === 'FAILED') throw new Error(`building ${label} failed: ${f.statusReason}`);
    if (i > 1200) throw new Error(`building ${label} took more than two minutes`);
    await sleep(100);
  }
  await api('POST', `/api/v1/functions/deploy/${fn.id}`);
  for (let i = 0; ; i++) {
    const f = await api('GET', `/api/v1/functions/${fn.id}`);
    if (f.status === 'READY') return fn.id;
    if (i > 1200) throw new Error(`${label} is ${f.status} two minutes after its deploy`);
    await sleep(100);
  }
}

/** Counts of the function's invocations (all, succeeded), and when each count was first reached. */
async function watch(dbUrl, functionId, n, timeoutMs) {
  const c = new Client({ connectionString: dbUrl });
  await c.connect();
  let acceptedAt;
  let ranAt;
  const deadline = Date.now() + timeoutMs;
  try {
    while (!bench.interrupted && Date.now() < deadline && ranAt === undefined) {
      const [row] = (
        await c.query(
          `SELECT count(*)::int AS accepted, count(*) FILTER (WHERE status = 'succeeded')::int AS ran FROM deployer.invocations WHERE function_id = $1`,
          [functionId],
        )
      ).rows;
      if (acceptedAt === undefined && row.accepted >= n) acceptedAt = Date.now();
      if (row.ran >= n) ranAt = Date.now();
      else await sleep(50);
    }
    const [last] = (
      await c.query(
        `SELECT count(*)::int AS accepted, count(*) FILTER (WHERE status = 'succeeded')::int AS ran FROM deployer.invocations WHERE function_id = $1`,
        [functionId],
      )
    ).rows;
    return { acceptedAt, ranAt, accepted: last.accepted, ran: last.ran };
  } finally {
    await c.end();
  }
}

const body = (i) => JSON.stringify({ n: i, at: Date.now() });

const PUBLISHERS = {
  /** The same work through the API: asynchronous invocations, 64 at a time. */
  async api(hks, functionId) {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
    const url = `${hks.platform.gatewayUrl}/api/v1/functions/invoke/${functionId}`;
    let next = 0;
    const one = () =>
      new Promise((resolve, reject) => {
        const payload = body(next++);
        const req = http.request(
          url,
          {
            method: 'POST',
            agent,
            headers: { ...hks.auth, 'content-type': 'application/json', prefer: 'respond-async', 'content-length': Buffer.byteLength(payload) },
          },
          (res) => {
            res.resume();
            res.on('end', () => (res.statusCode === 202 ? resolve() : reject(new Error(`answered ${res.statusCode}`))));
          },
        );
        req.on('error', reject);
        req.end(payload);
      });
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < MESSAGES) await one();
      }),
    );
    agent.destroy();
  },
  async queue(hks) {
    const conn = await amqplib.connect(hks.platform.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672');
    try {
      const ch = await conn.createConfirmChannel();
      const queue = `${hks.namespace}.bench-orders`;
      for (let i = 0; i < MESSAGES; i++) ch.sendToQueue(queue, Buffer.from(body(i)), { persistent: true, messageId: `m-${i}` });
      await ch.waitForConfirms();
      cleanups.push(async () => {
        const c = await amqplib.connect(hks.platform.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672');
        await (await c.createChannel()).deleteQueue(queue).catch(() => undefined);
        await c.close();
      });
    } finally {
      await conn.close();
    }
  },
  async nats(hks, functionId, ctx) {
    const nc = await connectNats({ servers: NATS_URL });
    try {
      const js = nc.jetstream();
      const sc = StringCodec();
      const pending = [];
      for (let i = 0; i < MESSAGES; i++) {
        pending.push(js.publish(ctx.subject, sc.encode(body(i))));
        if (pending.length >= 256) await Promise.all(pending.splice(0));
      }
      await Promise.all(pending);
    } finally {
      await nc.close();
    }
  },
  /**
   * Mosquitto holds at most 1,000 QoS 1 messages for a subscriber that has 20 unacknowledged (max_queued_messages,
   * max_inflight_messages: its defaults) and drops the rest; so the publisher keeps at most 800 ahead of what the
   * platform has accepted, and this measures the rate it keeps up with rather than the broker's queue limit.
   */
  async mqtt(hks, functionId, ctx) {
    const client = await mqtt.connectAsync(MQTT_URL, { clientId: `hks-bench-pub-${crypto.randomBytes(4).toString('hex')}` });
    const db = new Client({ connectionString: hks.dbUrl });
    await db.connect();
    try {
      const pending = [];
      for (let i = 0; i < MESSAGES; i++) {
        pending.push(client.publishAsync(`${ctx.topic}/sensor${i % 10}`, body(i), { qos: 1 }));
        if (pending.length >= 100) {
          await Promise.all(pending.splice(0));
          for (;;) {
            const [row] = (await db.query('SELECT count(*)::int AS n FROM deployer.invocations WHERE function_id = $1', [functionId])).rows;
            if (i + 1 - row.n <= 800 || bench.interrupted) break;
            await sleep(20);
          }
        }
      }
      await Promise.all(pending);
    } finally {
      await db.end();
      await client.endAsync();
    }
  },
  async event(hks) {
    // CloudEvents batch mode: 100 events per request.
    for (let i = 0; i < MESSAGES; i += 100) {
      const batch = Array.from({ length: Math.min(100, MESSAGES - i) }, (_, k) => ({
        specversion: '1.0',
        id: `bench-${i + k}`,
        source: 'bench',
        type: 'bench_event',
        datacontenttype: 'application/json',
        data: { n: i + k },
      }));
      const res = await fetch(`${hks.platform.gatewayUrl}/api/v3/events`, {
        method: 'POST',
        headers: { ...hks.auth, 'content-type': 'application/cloudevents-batch+json' },
        body: JSON.stringify(batch),
      });
      if (!res.ok) throw new Error(`POST /api/v3/events answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
      await res.arrayBuffer();
    }
  },
  async s3(hks, functionId) {
    // MinIO's webhook: one notification of 50 records per request, 8 requests at a time.
    const requests = [];
    for (let i = 0; i < MESSAGES; i += 50) {
      const Records = Array.from({ length: Math.min(50, MESSAGES - i) }, (_, k) => ({
        eventVersion: '2.0',
        eventSource: 'minio:s3',
        eventName: 's3:ObjectCreated:Put',
        eventTime: new Date().toISOString(),
        s3: { bucket: { name: 'bench' }, object: { key: `uploads/${i + k}.bin`, size: 1, eTag: `e${i + k}` } },
      }));
      requests.push({ Records });
    }
    let next = 0;
    await Promise.all(
      Array.from({ length: 8 }, async () => {
        while (next < requests.length) {
          const r = requests[next++];
          const res = await fetch(`${hks.platform.gatewayUrl}/api/v1/sources/s3/${functionId}`, {
            method: 'POST',
            headers: { ...hks.auth, 'content-type': 'application/json' },
            body: JSON.stringify(r),
          });
          if (!res.ok) throw new Error(`the S3 webhook answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
          await res.arrayBuffer();
        }
      }),
    );
  },
};

async function setUp(hks, kind) {
  const id = crypto.randomBytes(3).toString('hex');
  switch (kind) {
    case 'api':
      return { triggers: [] };
    case 'queue':
      return { triggers: [{ type: 'queue', source: 'bench-orders', ...BATCH }] };
    case 'nats': {
      const stream = `BENCH_${id.toUpperCase()}`;
      const subject = `bench.${id}.orders`;
      const nc = await connectNats({ servers: NATS_URL });
      const jsm = await nc.jetstreamManager();
      await jsm.streams.add({ name: stream, subjects: [subject] });
      await nc.close();
      cleanups.push(async () => {
        const c = await connectNats({ servers: NATS_URL });
        await (await c.jetstreamManager()).streams.delete(stream).catch(() => undefined);
        await c.close();
      });
      return { triggers: [{ type: 'nats', subject, stream, ...BATCH }], subject };
    }
    case 'mqtt': {
      const topic = `hks-bench-${id}`;
      return { triggers: [{ type: 'mqtt', topic: `${topic}/+`, ...BATCH }], topic };
    }
    case 'event':
      return { triggers: [{ type: 'event', eventType: 'bench_event' }] };
    case 's3':
      return { triggers: [{ type: 's3', bucket: 'bench' }] };
    default:
      throw new Error(`unknown source ${kind}`);
  }
}

async function main() {
  console.log(`sources bench: ${MESSAGES} messages per source into a trivial Node function; ${os.cpus().length} CPUs, node ${process.version}`);
  const hks = await startHks();
  const rows = [];
  for (const kind of ONLY) {
    if (bench.interrupted) break;
    const ctx = await setUp(hks, kind);
    const functionId = await deploy(hks.api, `bench-${kind}`, ctx.triggers);
    const t0 = Date.now();
    await PUBLISHERS[kind](hks, functionId, ctx);
    const published = Date.now();
    const w = await watch(hks.dbUrl, functionId, MESSAGES, 180_000);
    const rate = (at) => (at === undefined ? '-' : Math.round((MESSAGES * 1000) / Math.max(1, at - t0)));
    const row = {
      source: kind,
      'published/s': rate(published),
      'accepted/s': rate(w.acceptedAt),
      'ran/s': rate(w.ranAt),
      accepted: w.accepted,
      ran: w.ran,
    };
    console.log(JSON.stringify(row));
    rows.push(row);
    await hks.api('DELETE', `/api/v1/functions/deploy/${functionId}`).catch(() => undefined);
  }
  console.log('\n| source | published/s | accepted/s | ran/s | accepted | ran |\n|---|---|---|---|---|---|');
  for (const r of rows) console.log(`| ${r.source} | ${r['published/s']} | ${r['accepted/s']} | ${r['ran/s']} | ${r.accepted} | ${r.ran} |`);
  if (rows.some((r) => r.ran < MESSAGES)) {
    console.log(`FINDING: a source whose ${MESSAGES} messages did not all run within 3 minutes`);
    process.exitCode = 1;
  }
}

bench.run(main);
