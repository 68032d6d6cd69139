'use strict';
// The whole platform from dist/ for a bench: its own database, namespace, data dir and ports; functions created,
// built and deployed through the gateway with the admin key its first start wrote.
const fs = require('fs');
const os = require('os');
const path = require('path');
const { startPlatform } = require('../../tools/platform.js');

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** JSON in and out with the given headers; throws on a status >= 400. */
async function api(base, method, url, body, headers = {}) {
  const res = await fetch(base + url, {
    method,
    headers: { ...headers, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  let json;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  if (!res.ok) throw new Error(`${method} ${url} answered ${res.status}: ${text.slice(0, 300)}`);
  return json;
}

/**
 * @param {{internal: Record<string,string>, buildTimeoutMs?: number}} o `internal`: the internal-token header the bench
 *   also sends to the invoker directly.
 */
async function startFullPlatform({ internal, buildTimeoutMs = 60_000 }) {
  const { Client } = require('pg');
  const adminUrl = process.env.TEST_PG_ADMIN_URL || 'postgres://root@127.0.0.1:5432/postgres';
  const db = `hks_bench_${Date.now().toString(36)}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE "${db}"`);
  await admin.end();
  const dbUrl = new URL(adminUrl);
  dbUrl.pathname = `/${db}`;
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'hks-bench-'));
  const dropDb = async () => {
    const c = new Client({ connectionString: adminUrl });
    await c.connect();
    await c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`);
    await c.end();
  };
  let platform;
  try {
    platform = await startPlatform({
      env: { DATABASE_URL: dbUrl.toString(), HKS_NAMESPACE: `bench${Date.now().toString(36)}`, HKS_DATA_DIR: dataDir, LOG_LEVEL: 'warn' },
      randomPorts: true,
      logDir: path.join(dataDir, 'logs'),
      readyTimeoutMs: 90_000,
    });
  } catch (err) {
    await dropDb().catch(() => undefined);
    throw err;
  }
  const gw = platform.gatewayUrl;
  const headers = () => ({ ...internal, authorization: `Bearer ${platform.adminKey}` });
  return {
    adminKey: platform.adminKey,
    invokerUrl: platform.invokerUrl,
    headers,
    api: (base, method, url, body) => api(base, method, url, body, headers()),
    /** Creates, builds and deploys a function from its handler text (the runtime's default template unless given). */
    async deploy(label, runtime, handler, config, template) {
      const fn = await api(gw, 'POST', '/api/v1/functions', { label, runtime, ...(template ? { template } : {}), handler, config }, headers());
      await api(gw, 'POST', `/api/v1/functions/build/${fn.id}`, undefined, headers());
      for (const deadline = Date.now() + buildTimeoutMs; ;) {
        const f = await api(gw, 'GET', `/api/v1/functions/${fn.id}`, undefined, headers());
        if (f.status === 'BUILT' || f.status === 'READY') break;
        if (f.status === 'FAILED') throw new Error(`building ${label} failed: ${f.statusReason}`);
        if (Date.now() > deadline) throw new Error(`building ${label} took more than ${buildTimeoutMs / 1000} s`);
        await sleep(100);
      }
      await api(gw, 'POST', `/api/v1/functions/deploy/${fn.id}`, undefined, headers());
      return { functionId: fn.id, url: `${gw}/api/v1/functions/invoke/${fn.id}`, invokerUrl: `${platform.invokerUrl}/invoke/${fn.id}` };
    },
    async stop() {
      await platform.stop();
      await dropDb().catch(() => undefined);
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

module.exports = { api, startFullPlatform, sleep };
