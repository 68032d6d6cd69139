#!/usr/bin/env node
// Starts the six services from dist/ as separate processes, waits until each answers /readyz, and stops them
// together. Used by `scripts/start` (foreground, Ctrl-C stops) and by the end-to-end tests (isolated env).
'use strict';
const { spawn } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');

const ROOT = path.resolve(__dirname, '..');

/** Start order: what others need first. */
const APPS = [
  { name: 'event-store', portEnv: 'EVENT_STORE_PORT', port: 8085 },
  { name: 'function-registry', portEnv: 'REGISTRY_PORT', port: 8082 },
  { name: 'builder', portEnv: 'BUILDER_PORT', port: 8083 },
  { name: 'deployer', portEnv: 'DEPLOYER_PORT', port: 8084 },
  { name: 'invoker', portEnv: 'INVOKER_PORT', port: 8081 },
  { name: 'gateway', portEnv: 'GATEWAY_PORT', port: 8080 },
];

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function get(url, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (c) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (err) => resolve({ status: 0, body: err.message }));
    req.on('timeout', () => req.destroy(new Error('timeout')));
  });
}

/** A clean environment for the services: no inherited NODE_OPTIONS/CA settings that slow every start. */
function baseEnv(extra) {
  const keep = ['PATH', 'HOME', 'LANG', 'TZ', 'USER', 'KUBECONFIG', 'TMPDIR'];
  const env = {};
  for (const k of keep) if (process.env[k] !== undefined) env[k] = process.env[k];
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(HKS_|DATABASE_URL|AMQP_URL|REDIS_URL|LOG_|GATEWAY_|INVOKER_|REGISTRY_|BUILDER_|DEPLOYER_|EVENT_STORE_|KNATIVE_|RPC_)/.test(k)) env[k] = v;
  }
  return { ...env, ...extra };
}

function readKey(file) {
  try {
    return fs.readFileSync(file, 'utf8').trim() || undefined;
  } catch (err) {
    if (err.code === 'ENOENT') return undefined;
    throw err;
  }
}

/**
 * Puts a new admin key where `hks` finds it (its config file, 0600), unless that file already holds a key:
 * then says how to use the new one. Like `faas-cli login`, done for the user at first start.
 */
function rememberAdminKey(key, gatewayUrl, say, env = process.env) {
  const cli = require(path.join(ROOT, 'dist', 'apps', 'cli', 'src', 'settings.js'));
  const file = cli.configFilePath(env);
  let current;
  try {
    current = cli.readConfigFile(file);
  } catch (err) {
    say(`${err.message}; to use the key: hks login --api-key <key> --gateway ${gatewayUrl}`);
    return;
  }
  if (current.apiKey && current.apiKey !== key) {
    say(`${file} holds another API key; to use this one: hks login --api-key <the key above> --gateway ${gatewayUrl}`);
    return;
  }
  if (current.apiKey === key) return;
  cli.writeConfigFile(file, { gateway: current.gateway || gatewayUrl, apiKey: key });
  say(`saved it in ${file}, so hks uses it`);
}

/**
 * @param {object} o
 * @param {Record<string,string>} [o.env] settings for every service (namespace, database, data dir ...)
 * @param {boolean} [o.randomPorts] pick free ports instead of the defaults (tests)
 * @param {string} [o.logDir] where each service's output goes
 * @param {(line: string) => void} [o.log]
 */
async function startPlatform(o = {}) {
  const log = o.log || (() => {});
  const ports = {};
  for (const app of APPS) ports[app.name] = o.randomPorts ? await freePort() : Number(process.env[app.portEnv] || app.port);
  const shared = {
    ...(o.env || {}),
    INVOKER_URL: `http://127.0.0.1:${ports.invoker}`,
    BUILDER_URL: `http://127.0.0.1:${ports.builder}`,
  };
  for (const app of APPS) shared[app.portEnv] = String(ports[app.name]);
  const logDir = o.logDir || path.join(ROOT, '.hks', 'logs');
  fs.mkdirSync(logDir, { recursive: true });
  // The registry writes the admin key at first start (services run with cwd ROOT, hence relative to it).
  const adminKeyFile = path.resolve(ROOT, shared.HKS_DATA_DIR || process.env.HKS_DATA_DIR || path.join('.hks', 'data'), 'admin-key');
  const keyBefore = readKey(adminKeyFile);

  const children = [];
  let stopping = false;
  const stop = async () => {
    stopping = true;
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            if (c.proc.exitCode !== null || c.proc.signalCode !== null) return resolve();
            const t = setTimeout(() => c.proc.kill('SIGKILL'), 8000);
            c.proc.once('exit', () => {
              clearTimeout(t);
              resolve();
            });
            c.proc.kill('SIGTERM');
          }),
      ),
    );
    for (const c of children) c.out.end();
  };

  try {
    for (const app of APPS) {
      const main = path.join(ROOT, 'dist', 'apps', app.name, 'src', 'main.js');
      if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
      const logFile = path.join(logDir, `${app.name}.log`);
      const out = fs.createWriteStream(logFile, { flags: 'a' });
      const proc = spawn(process.execPath, [main], { cwd: ROOT, env: baseEnv(shared), stdio: ['ignore', 'pipe', 'pipe'] });
      proc.stdout.pipe(out, { end: false });
      proc.stderr.pipe(out, { end: false });
      const child = { app, proc, out, logFile };
      children.push(child);
      proc.on('exit', (code, signal) => {
        if (!stopping) log(`${app.name} exited (${signal || code}); see ${logFile}`);
      });
      log(`starting ${app.name} on :${ports[app.name]}`);
    }
    // Wait for every service to be ready (they connect to Postgres/RabbitMQ/Redis and run migrations first).
    const deadline = Date.now() + (o.readyTimeoutMs || 60000);
    for (const c of children) {
      const url = `http://127.0.0.1:${ports[c.app.name]}/readyz`;
      for (;;) {
        if (c.proc.exitCode !== null) {
          const tail = fs.existsSync(c.logFile) ? fs.readFileSync(c.logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
          throw new Error(`${c.app.name} exited with code ${c.proc.exitCode} while starting:\n${tail}`);
        }
        const r = await get(url);
        if (r.status === 200) break;
        if (Date.now() > deadline) throw new Error(`${c.app.name} not ready at ${url} after waiting: ${r.status} ${r.body}`);
        await new Promise((res) => setTimeout(res, 100));
      }
      log(`${c.app.name} ready`);
    }
  } catch (err) {
    await stop();
    throw err;
  }

  const adminKey = readKey(adminKeyFile);
  return {
    ports,
    /** The admin API key of HKS_DATA_DIR/admin-key, and whether this start made it. */
    adminKey,
    adminKeyFile,
    adminKeyCreated: Boolean(adminKey) && adminKey !== keyBefore,
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    invokerUrl: `http://127.0.0.1:${ports.invoker}`,
    env: shared,
    children,
    stop,
  };
}

module.exports = { startPlatform, rememberAdminKey, APPS, freePort };

if (require.main === module) {
  const logDir = path.join(ROOT, '.hks', 'logs');
  const say = (l) => console.log(`[hks] ${l}`);
  startPlatform({
    log: say,
    logDir,
    env: { HKS_DATA_DIR: process.env.HKS_DATA_DIR || path.join(ROOT, '.hks', 'data') },
  }).then(
    (p) => {
      say(`platform ready: gateway ${p.gatewayUrl}  (API docs ${p.gatewayUrl}/api/v1/functions/swagger-ui)`);
      if (p.adminKeyCreated) {
        say(`first start: created an admin API key, shown this once (also kept in ${p.adminKeyFile}):`);
        say(`  ${p.adminKey}`);
        rememberAdminKey(p.adminKey, p.gatewayUrl, say);
      }
      say(`logs in ${logDir}; Ctrl-C stops everything`);
      let exiting = false;
      const shutdown = async () => {
        if (exiting) return;
        exiting = true;
        say('stopping...');
        await p.stop();
        process.exit(0);
      };
      process.on('SIGINT', shutdown);
      process.on('SIGTERM', shutdown);
      for (const c of p.children) {
        c.proc.on('exit', () => {
          if (!exiting) {
            say(`${c.app.name} stopped unexpectedly; stopping the platform (see ${c.logFile})`);
            void shutdown().then(() => process.exit(1));
          }
        });
      }
    },
    (err) => {
      console.error(`[hks] the platform did not start: ${err.message}`);
      process.exit(1);
    },
  );
}
