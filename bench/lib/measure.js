'use strict';
// What every bench script measures the same way: percentiles, one timed request, alternating warm rounds.
const http = require('http');

const pct = (sorted, q) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * q))];
const stats = (values) => {
  const s = [...values].sort((a, b) => a - b);
  return { p50: pct(s, 0.5), p99: pct(s, 0.99), n: s.length };
};

/** One request on a keep-alive agent; resolves with {status, headers, us}. */
function timed(agent, url, { method = 'GET', headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const started = process.hrtime.bigint();
    const req = http.request(url, { method, agent, headers }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, us: Number(process.hrtime.bigint() - started) / 1000 }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Sequential latency of each URL (one keep-alive connection each), in alternating rounds so all see the same machine. */
async function warmLatency(urls, { n, rounds, headers = () => ({}) }) {
  const agents = urls.map(() => new http.Agent({ keepAlive: true, maxSockets: 1 }));
  const samples = urls.map(() => []);
  for (let i = 0; i < 300; i++) for (let u = 0; u < urls.length; u++) await timed(agents[u], urls[u], { headers: headers() });
  for (let round = 0; round < rounds; round++) {
    for (let u = 0; u < urls.length; u++) {
      for (let i = 0; i < n / rounds; i++) {
        const r = await timed(agents[u], urls[u], { headers: headers() });
        if (r.status !== 200) throw new Error(`${urls[u]} answered ${r.status}`);
        samples[u].push(r.us);
      }
    }
  }
  agents.forEach((a) => a.destroy());
  return samples.map(stats);
}

/** Resolves once `url` answers 2xx (a service that is starting). */
async function waitHttp(url, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

module.exports = { pct, stats, timed, warmLatency, waitHttp };
