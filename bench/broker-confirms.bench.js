#!/usr/bin/env node
'use strict';
/**
 * The broker's own ceiling for what POST /api/v3/events does per event: one persistent message, published with a
 * confirm, routed to 1 or 2 durable queues (posted events go to the event store's queue and to the deployer's
 * event-trigger queue) whose consumers ack at once. Publishes from one confirm channel with a fixed number of
 * messages awaiting their confirm (16 = one per connection of single posts; 1600 = 16 batches of 100) for a few
 * seconds each, and prints messages/s and the confirm latency. No platform service runs.
 *
 *   node bench/broker-confirms.bench.js [--seconds 4]
 */
const crypto = require('crypto');
const amqp = require('amqplib');
const { stats } = require('./lib/measure');

const args = process.argv.slice(2);
const SECONDS = args.includes('--seconds') ? Number(args[args.indexOf('--seconds') + 1]) : 4;
const AMQP_URL = process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672';

async function run(conn, queues, inFlight) {
  const name = `hksbench-confirms-${crypto.randomBytes(4).toString('hex')}`;
  const ch = await conn.createConfirmChannel();
  const consumer = await conn.createChannel();
  await consumer.prefetch(600);
  await ch.assertExchange(name, 'topic', { durable: false, autoDelete: true });
  for (let i = 0; i < queues; i++) {
    await ch.assertQueue(`${name}.${i}`, { durable: true });
    await ch.bindQueue(`${name}.${i}`, name, 'event.#');
    await consumer.consume(`${name}.${i}`, (m) => m && consumer.ack(m));
  }
  // About the size of a posted event's CloudEvent.
  const body = Buffer.from(
    JSON.stringify({
      specversion: '1.0',
      id: crypto.randomUUID(),
      source: 'api',
      type: 'bench.rate',
      time: new Date().toISOString(),
      data: { payload: { n: 1, order: { sku: 'A-1', qty: 2 } } },
    }),
  );
  const latencies = [];
  let sent = 0;
  const until = Date.now() + SECONDS * 1000;
  const lane = async () => {
    while (Date.now() < until) {
      const started = process.hrtime.bigint();
      await new Promise((resolve, reject) =>
        ch.publish(name, 'event.bench.rate._', body, { persistent: true }, (err) =>
          err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve(),
        ),
      );
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
      sent++;
    }
  };
  const t0 = Date.now();
  await Promise.all(Array.from({ length: inFlight }, lane));
  const rate = sent / ((Date.now() - t0) / 1000);
  const s = stats(latencies);
  console.log(
    `${queues} queue(s), ${inFlight} awaiting confirm: ${Math.round(rate)} messages/s, confirm p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms`,
  );
  await consumer.close();
  for (let i = 0; i < queues; i++) await ch.deleteQueue(`${name}.${i}`);
  await ch.close();
}

async function main() {
  const conn = await amqp.connect(AMQP_URL);
  try {
    for (const inFlight of [16, 1600]) for (const queues of [1, 2]) await run(conn, queues, inFlight);
  } finally {
    await conn.close();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
