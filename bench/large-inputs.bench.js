#!/usr/bin/env node
'use strict';
/**
 * 64 (--calls) requests of --kb KB each at once to one Node function with the default config (its concurrency is the
 * runtime's default), on the invoker alone: how they were answered and how many workers served them. A worker given
 * more than its memory holds is killed (502 "exceeded its memory limit"). --dist runs another build.
 *
 *   npm run build && node bench/large-inputs.bench.js [--kb 1024] [--calls 64] [--dist other/dist]
 */
const crypto = require('crypto');
const path = require('path');
const { deployFunction, startInvokerAlone } = require('./lib/invoker-alone');
const TOKEN = crypto.randomBytes(32).toString('hex');
const H = { 'x-hks-internal-token': TOKEN, 'content-type': 'application/json' };
const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const DIST = path.resolve(option('--dist', path.join(__dirname, '..', 'dist')));
const KB = Number(option('--kb', 1024));
const CALLS = Number(option('--calls', 64));

(async () => {
  const dist = DIST;
  const inv = await startInvokerAlone({ dist, name: 'large-inputs', token: TOKEN });
  const { base } = inv;
  try {
    await deployFunction(inv, TOKEN, {
      label: 'big',
      family: 'node',
      entrypoint: 'handler.*',
      files: { 'handler.js': 'module.exports.handle = async (d) => { await new Promise((r) => setTimeout(r, 200)); return { n: d.s.length }; };\n' },
    });
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
    await inv.stop();
  }
})().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
