#!/usr/bin/env node
// Tells, before anything starts, which of Postgres, RabbitMQ and Redis is not reachable, and how to point at it.
'use strict';
const net = require('net');

const services = [
  ['Postgres', process.env.DATABASE_URL || 'postgres://root@127.0.0.1:5432/hks', 5432, 'DATABASE_URL'],
  ['RabbitMQ', process.env.AMQP_URL || 'amqp://guest:guest@127.0.0.1:5672', 5672, 'AMQP_URL'],
  ['Redis', process.env.REDIS_URL || 'redis://127.0.0.1:6379', 6379, 'REDIS_URL'],
];

function reachable(host, port) {
  return new Promise((resolve) => {
    const s = net.connect({ host, port, timeout: 2000 });
    s.on('connect', () => (s.end(), resolve(true)));
    s.on('error', () => resolve(false));
    s.on('timeout', () => (s.destroy(), resolve(false)));
  });
}

(async () => {
  const down = [];
  for (const [name, url, defPort, env] of services) {
    const u = new URL(url);
    if (!(await reachable(u.hostname, Number(u.port || defPort)))) down.push(`${name} at ${u.hostname}:${u.port || defPort} (set ${env})`);
  }
  if (down.length) {
    console.error(`[setup] not reachable: ${down.join('; ')}`);
    process.exit(1);
  }
})().catch((err) => {
  // A malformed URL in one of the settings, most likely.
  console.error(`[setup] could not check the services: ${err.message}`);
  process.exit(1);
});
