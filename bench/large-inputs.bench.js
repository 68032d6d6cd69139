#!/usr/bin/env node
'use strict';
/**
 * 64 (--calls) requests of --kb KB each at once to one Node function with the default config (its concurrency is the
 * runtime's default), on the invoker alone: how they were answered and how many workers served them. A worker given
 * more than its memory holds is killed (502 "exceeded its memory limit"). --dist runs another build.
 *
 *   npm run build && node bench/large-inputs.bench.js [--kb 1024] [--calls 64] [--dist other/dist]
 */
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { freePort } = require('../tools/platform.js');
const { writeBundle } = require('./lib/bundle');
const { waitHttp } = require('./lib/measure');
const TOKEN = crypto.randomBytes(32).toString('hex');
const H = { 'x-hks-internal-token': TOKEN, 'content-type': 'application/json' };
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const DIST = path.resolve(option('--dist', path.join(__dirname, '..', 'dist')));
const KB = Number(option('--kb', 1024));
const CALLS = Number(option('--calls', 64));

(async () => {
  const dist = DIST;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hks-oom-'));
  const port = await freePort();
  const env = {
    PATH: process.env.PATH,
    HKS_NAMESPACE: `oom${Date.now().toString(36)}`,
    HKS_DATA_DIR: dataDir,
    HKS_INTERNAL_TOKEN: TOKEN,
    INVOKER_PORT: String(port),
    INVOKER_EVENT_JOURNAL: 'off',
    LOG_LEVEL: 'warn',
    RPC_TIMEOUT_MS: '3000',
  };
  const child = spawn(process.execPath, [path.join(dist, 'apps/invoker/src/main.js')], { env, stdio: 'ignore' });
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(`${base}/readyz`);
    const functionId = crypto.randomUUID();
    const bundleDigest = await writeBundle(dataDir, 'node', 'handler.*', {
      'handler.js': 'module.exports.handle = async (d) => { await new Promise((r) => setTimeout(r, 200)); return { n: d.s.length }; };\n',
    });
    const spec = {
      functionId,
      label: 'big',
      version: 1,
      runtime: 'node',
      family: 'node',
      template: 'node',
      entrypoint: 'handler.*',
      bundleDigest,
      image: null,
    };
    await fetch(`${base}/deployments/${functionId}`, { method: 'PUT', headers: H, body: JSON.stringify({ deploymentId: crypto.randomUUID(), spec, env: {} }) });
    const body = JSON.stringify({ data: { s: 'x'.repeat(KB * 1024) } });
    const res = await Promise.all(
      Array.from({ length: CALLS }, () =>
        fetch(`${base}/invoke/big`, { method: 'POST', headers: H, body }).then(async (r) => ({ s: r.status, t: (await r.text()).slice(0, 120) })),
      ),
    );
    const by = {};
    for (const r of res) by[r.s] = (by[r.s] || 0) + 1;
    const dep = (await (await fetch(`${base}/deployments`, { headers: H })).json()).deployments[0];
    console.log(
      dist,
      `${KB} KB x ${CALLS} at once:`,
      JSON.stringify(by),
      res.find((r) => r.s !== 200)?.t ?? '',
      'instances',
      dep.instances,
      'scaling.concurrency',
      dep.scaling.concurrency,
    );
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
