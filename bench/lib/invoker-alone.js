'use strict';
// An invoker from a dist/ tree on its own (no other service), for the benches that measure workers: its own namespace,
// data dir and free port, the internal token given, killed after `lifetimeMs` whatever happens to the bench.
const { spawn } = require('child_process');
const crypto = require('crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const { freePort } = require('../../tools/platform.js');
const { writeBundle } = require('./bundle');
const { waitHttp } = require('./measure');

/**
 * @param {{dist: string, name: string, token: string, env?: Record<string,string>, lifetimeMs?: number}} o
 * @returns {Promise<{base: string, dataDir: string, child: import('child_process').ChildProcess, stop: () => Promise<void>}>}
 */
async function startInvokerAlone({ dist, name, token, env = {}, lifetimeMs = 5 * 60_000 }) {
  const main = path.join(dist, 'apps', 'invoker', 'src', 'main.js');
  if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `hks-${name}-`));
  const port = await freePort();
  const full = {
    PATH: process.env.PATH,
    HKS_NAMESPACE: `bench${Date.now().toString(36)}`,
    HKS_DATA_DIR: dataDir,
    HKS_INTERNAL_TOKEN: token,
    INVOKER_PORT: String(port),
    INVOKER_EVENT_JOURNAL: 'off',
    LOG_LEVEL: 'warn',
    RPC_TIMEOUT_MS: '3000',
    ...env,
  };
  for (const k of ['AMQP_URL', 'DATABASE_URL', 'REDIS_URL', 'INVOKER_CGROUPS']) if (process.env[k] && !(k in env)) full[k] = process.env[k];
  const log = fs.openSync(path.join(dataDir, 'invoker.log'), 'a');
  const child = spawn(process.execPath, [main], { env: full, stdio: ['ignore', log, log] });
  const killer = setTimeout(() => child.kill('SIGKILL'), lifetimeMs).unref();
  const exited = new Promise((r) => child.once('exit', r));
  const stop = async () => {
    clearTimeout(killer);
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitHttp(`${base}/readyz`, 60_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { base, dataDir, child, stop };
}

/** Writes a bundle of `files` and deploys it on the invoker (PUT /deployments/{id}); resolves with the function id. */
async function deployFunction(inv, token, { label, family, entrypoint, files, config }) {
  const functionId = crypto.randomUUID();
  const bundleDigest = await writeBundle(inv.dataDir, family, entrypoint, files);
  const spec = {
    functionId,
    label,
    version: 1,
    runtime: family,
    family,
    template: family,
    entrypoint,
    bundleDigest,
    image: null,
    ...(config ? { config } : {}),
  };
  const res = await fetch(`${inv.base}/deployments/${functionId}`, {
    method: 'PUT',
    headers: { 'x-hks-internal-token': token, 'content-type': 'application/json' },
    body: JSON.stringify({ deploymentId: crypto.randomUUID(), spec, env: {} }),
  });
  if (!res.ok) throw new Error(`deploying ${label} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return functionId;
}

module.exports = { startInvokerAlone, deployFunction };
