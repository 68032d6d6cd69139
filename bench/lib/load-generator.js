#!/usr/bin/env node
'use strict';
/**
 * A closed-loop HTTP load generator (autocannon-like), run as its own process so it does not share an
 * event loop with what it measures: `connections` keep-alive connections, each sending its next
 * request as soon as the previous answer arrived, for `seconds`. Prints one JSON line:
 * {requests, errors, statuses, seconds, rps, latencyUs: {p50, p99}}.
 *   node load-generator.js <url> [connections=16] [seconds=5] [method=GET] [body]
 */
const http = require('http');

const [url, connArg, secArg, method = 'GET', body] = process.argv.slice(2);
const connections = Number(connArg) || 16;
const seconds = Number(secArg) || 5;
const target = new URL(url);
const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
const payload = body ? Buffer.from(body) : undefined;
const headers = payload ? { 'content-type': 'application/json', 'content-length': payload.length } : {};
// Calls to the invoker itself carry the services' internal credential (the bench sets it).
if (process.env.HKS_INTERNAL_TOKEN) headers['x-hks-internal-token'] = process.env.HKS_INTERNAL_TOKEN;
// Any other headers (an API key through the gateway) as a JSON object, as wrk takes them with -H.
if (process.env.LOAD_HEADERS) Object.assign(headers, JSON.parse(process.env.LOAD_HEADERS));

const latencies = [];
const statuses = {};
let requests = 0;
let errors = 0;
let running = true;

function one() {
  return new Promise((resolve) => {
    const started = process.hrtime.bigint();
    const req = http.request({ hostname: target.hostname, port: target.port, path: target.pathname + target.search, method, agent, headers }, (res) => {
      res.on('data', () => undefined);
      res.on('end', () => {
        statuses[res.statusCode] = (statuses[res.statusCode] || 0) + 1;
        if (res.statusCode >= 400) errors++;
        latencies.push(Number(process.hrtime.bigint() - started) / 1000);
        requests++;
        resolve();
      });
    });
    req.on('error', () => {
      errors++;
      resolve();
    });
    req.end(payload);
  });
}

async function loop() {
  while (running) await one();
}

const began = process.hrtime.bigint();
setTimeout(() => (running = false), seconds * 1000);
Promise.all(Array.from({ length: connections }, loop)).then(
  () => {
    const elapsed = Number(process.hrtime.bigint() - began) / 1e9;
    latencies.sort((a, b) => a - b);
    const pick = (q) => (latencies.length ? Math.round(latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * q))]) : null);
    process.stdout.write(
      JSON.stringify({ requests, errors, statuses, seconds: elapsed, rps: requests / elapsed, latencyUs: { p50: pick(0.5), p99: pick(0.99) } }) + '\n',
    );
    agent.destroy();
  },
  (err) => {
    process.stderr.write(`load generator failed: ${err.stack || err.message}\n`);
    process.exit(1);
  },
);
