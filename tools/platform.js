#!/usr/bin/env node
// Starts the six services from dist/, waits until each answers /readyz, supervises them, and stops them together.
// Used by `scripts/start` (foreground, Ctrl-C stops) and by the end-to-end tests (isolated env). HKS_PROCESSES=one
// (the local default) runs the six in one Node process (tools/one-process.js); `each` runs one process per service,
// as a cluster does.
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
    if (/^(HKS_|DATABASE_URL|AMQP_URL|REDIS_URL|LOG_|METRICS_|OTEL_|GATEWAY_|INVOKER_|REGISTRY_|BUILDER_|DEPLOYER_|EVENT_STORE_|KNATIVE_|RPC_)/.test(k))
      env[k] = v;
  }
  return { ...env, ...extra };
}

/** How the services are laid out in processes: one for all (local default), or one each. */
const PROCESS_MODES = ['one', 'each'];

function processGroups(mode) {
  if (mode === 'each') return APPS.map((app) => ({ name: app.name, services: [app.name], main: path.join(ROOT, 'dist', 'apps', app.name, 'src', 'main.js') }));
  return [{ name: 'platform', services: APPS.map((a) => a.name), main: path.join(ROOT, 'tools', 'one-process.js') }];
}

/** Restart policy: a child that dies is started again after 0.5 s, 1 s, 2 s ... (at most 30 s). */
const BACKOFF_FIRST_MS = 500;
const BACKOFF_MAX_MS = 30000;
/** A run shorter than this counts as a fast crash; this many in a row and the supervisor gives up. */
const FAST_CRASH_MS = 10000;
const MAX_FAST_CRASHES = 5;
/** SIGTERM, then SIGKILL after this: services drain well within it (Kubernetes gives 30 s). */
const STOP_GRACE_MS = 25000;

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
 * @param {(name: string, reason: string) => void} [o.onGiveUp] called when a service keeps crashing and is left down
 * @param {number} [o.readyTimeoutMs] how long each service may take to answer /readyz (default 60 s)
 * @param {boolean} [o.supervise] restart a service that dies after the start (default true)
 * @param {'one'|'each'} [o.processes] all services in one process, or one process each (default: HKS_PROCESSES, else one)
 */
async function startPlatform(o = {}) {
  const log = o.log || (() => {});
  const mode = o.processes || (o.env && o.env.HKS_PROCESSES) || process.env.HKS_PROCESSES || 'one';
  if (!PROCESS_MODES.includes(mode)) throw new Error(`HKS_PROCESSES=${mode} is not one of ${PROCESS_MODES.join(', ')}`);
  const groups = processGroups(mode);
  // Extra Node options for the services' processes, e.g. HKS_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof" to profile.
  const nodeArgs = ((o.env && o.env.HKS_NODE_ARGS) || process.env.HKS_NODE_ARGS || '').split(/\s+/).filter(Boolean);
  /** @type {Record<string, number>} */
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

  /** @type {Array<{app: {name: string, services: string[], main: string}, proc: import('child_process').ChildProcess, out: fs.WriteStream, logFile: string, restarts: number, fastCrashes: number, exits: Array<{code: number|null, signal: string|null, at: number}>, gaveUp: boolean, timer?: NodeJS.Timeout}>} */
  const children = [];
  let stopping = false;
  const alive = (proc) => proc.exitCode === null && proc.signalCode === null;

  /** Says when a restarted process's services answer /readyz again (or nothing, if that process died first). */
  const announceReady = async (child, proc) => {
    for (const service of child.app.services) {
      const url = `http://127.0.0.1:${ports[service]}/readyz`;
      for (;;) {
        if (stopping || !alive(proc)) return;
        if ((await get(url)).status === 200) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    log(`${child.app.name} is ready again (restart #${child.restarts})`);
  };

  const spawnChild = (child) => {
    const proc = spawn(process.execPath, [...nodeArgs, child.app.main], { cwd: ROOT, env: baseEnv(shared), stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout.pipe(child.out, { end: false });
    proc.stderr.pipe(child.out, { end: false });
    child.proc = proc;
    child.startedAt = Date.now();
    proc.on('exit', (code, signal) => {
      child.exits.push({ code, signal, at: Date.now() });
      if (stopping) return;
      if (!child.supervised) {
        log(`${child.app.name} exited (${signal || code}); see ${child.logFile}`);
        return;
      }
      const ranMs = Date.now() - child.startedAt;
      child.fastCrashes = ranMs < FAST_CRASH_MS ? child.fastCrashes + 1 : 0;
      if (child.fastCrashes >= MAX_FAST_CRASHES) {
        child.gaveUp = true;
        const reason = `${child.app.name} crashed ${child.fastCrashes} times in a row within ${FAST_CRASH_MS / 1000} s of starting (last: ${signal || `exit code ${code}`}); giving up on it. See ${child.logFile}`;
        log(reason);
        if (o.onGiveUp) o.onGiveUp(child.app.name, reason);
        return;
      }
      // A run that lasted resets the backoff; repeated fast crashes double it.
      const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** child.fastCrashes);
      child.restarts++;
      log(
        `${child.app.name} exited (${signal ? `signal ${signal}` : `exit code ${code}`}) after ${Math.round(ranMs / 100) / 10} s; restarting in ${delay} ms (restart #${child.restarts}); see ${child.logFile}`,
      );
      child.timer = setTimeout(() => {
        child.timer = undefined;
        if (stopping) return;
        spawnChild(child);
        void announceReady(child, child.proc);
      }, delay);
    });
  };

  const stop = async () => {
    stopping = true;
    await Promise.all(
      children.map(
        (c) =>
          new Promise((resolve) => {
            if (c.timer) clearTimeout(c.timer);
            if (!alive(c.proc)) return resolve();
            const t = setTimeout(() => {
              log(`${c.app.name} did not stop within ${STOP_GRACE_MS} ms of SIGTERM; killing it`);
              c.proc.kill('SIGKILL');
            }, STOP_GRACE_MS);
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

  /** The process that runs the service `name` (with HKS_PROCESSES=one, the one process of all six). */
  const byName = (name) => {
    const c = children.find((x) => x.app.services.includes(name));
    if (!c) throw new Error(`no service named ${name}`);
    return c;
  };

  /**
   * Resolves once the service answers /readyz (after a restart, on the same port), and with it every service of its
   * process (with HKS_PROCESSES=one a restart brings back all six).
   */
  const waitReady = async (name, timeoutMs = o.readyTimeoutMs || 60000) => {
    const deadline = Date.now() + timeoutMs;
    for (const service of byName(name).app.services) await waitServiceReady(service, deadline);
  };

  const waitServiceReady = async (name, deadline) => {
    const c = byName(name);
    const url = `http://127.0.0.1:${ports[name]}/readyz`;
    const timeoutMs = Math.max(0, deadline - Date.now());
    for (;;) {
      if (c.gaveUp) throw new Error(`${name} is down for good: it kept crashing (see ${c.logFile})`);
      if (c.proc && alive(c.proc)) {
        const r = await get(url);
        if (r.status === 200) return;
        if (Date.now() > deadline) throw new Error(`${name} not ready at ${url} after waiting: ${r.status} ${r.body}`);
      } else if (Date.now() > deadline) {
        throw new Error(`${name} was not restarted within ${timeoutMs} ms`);
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  };

  /** kill -9 one service (tests): resolves with its exit once it is dead; supervision starts it again. With
   * HKS_PROCESSES=one that is the process of all six. */
  const kill = (name, signal = 'SIGKILL') => {
    const c = byName(name);
    const proc = c.proc;
    if (!alive(proc)) return Promise.resolve(null);
    return new Promise((resolve) => {
      proc.once('exit', (code, sig) => resolve({ code, signal: sig }));
      proc.kill(signal);
    });
  };

  try {
    for (const app of APPS) {
      const main = path.join(ROOT, 'dist', 'apps', app.name, 'src', 'main.js');
      if (!fs.existsSync(main)) throw new Error(`${main} is missing: run \`npm run build\` first`);
    }
    for (const group of groups) {
      const logFile = path.join(logDir, `${group.name}.log`);
      const out = fs.createWriteStream(logFile, { flags: 'a' });
      const child = { app: group, proc: undefined, out, logFile, restarts: 0, fastCrashes: 0, exits: [], gaveUp: false, supervised: false };
      children.push(child);
      spawnChild(child);
      log(`starting ${group.services.map((s) => `${s} on :${ports[s]}`).join(', ')}${group.services.length > 1 ? ' in one process' : ''}`);
    }
    // Wait for every service to be ready (they connect to Postgres/RabbitMQ/Redis and run migrations first).
    const deadline = Date.now() + (o.readyTimeoutMs || 60000);
    for (const c of children) {
      for (const service of c.app.services) {
        const url = `http://127.0.0.1:${ports[service]}/readyz`;
        for (;;) {
          if (!alive(c.proc)) {
            const tail = fs.existsSync(c.logFile) ? fs.readFileSync(c.logFile, 'utf8').split('\n').slice(-30).join('\n') : '';
            throw new Error(`${c.app.name} exited with ${c.proc.signalCode || `code ${c.proc.exitCode}`} while starting:\n${tail}`);
          }
          const r = await get(url);
          if (r.status === 200) break;
          if (Date.now() > deadline) throw new Error(`${service} not ready at ${url} after waiting: ${r.status} ${r.body}`);
          await new Promise((res) => setTimeout(res, 100));
        }
        log(`${service} ready`);
      }
    }
    // From here on a service that dies is restarted, not fatal (a first start that fails still is).
    if (o.supervise !== false) for (const c of children) c.supervised = true;
  } catch (err) {
    await stop();
    throw err;
  }

  // What a caller of an internal route (the invoker, the builder's artifacts) must send: set, or created by the first service.
  const childEnv = baseEnv(shared);
  const internalToken =
    childEnv.HKS_INTERNAL_TOKEN || fs.readFileSync(path.resolve(ROOT, childEnv.HKS_DATA_DIR || '.hks/data', 'internal-token'), 'utf8').trim();
  const adminKey = readKey(adminKeyFile);
  return {
    ports,
    internalToken,
    /** The admin API key of HKS_DATA_DIR/admin-key, and whether this start made it. */
    adminKey,
    adminKeyFile,
    adminKeyCreated: Boolean(adminKey) && adminKey !== keyBefore,
    gatewayUrl: `http://127.0.0.1:${ports.gateway}`,
    invokerUrl: `http://127.0.0.1:${ports.invoker}`,
    env: shared,
    children,
    kill,
    waitReady,
    /** How the services run: 'one' process for all, or one 'each'. */
    processes: mode,
    /** Every exit of every service since the start (restarts included), by service name (with `one`, the process's). */
    exits: () => Object.fromEntries(APPS.map((a) => [a.name, byName(a.name).exits.slice()])),
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
    onGiveUp: (name) => {
      say(`${name} cannot be kept running; stopping the platform`);
      process.exitCode = 1;
      process.kill(process.pid, 'SIGTERM');
    },
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
        say('stopped');
        process.exit(process.exitCode || 0);
      };
      const onSignal = () => {
        shutdown().catch((err) => {
          console.error(`[hks] stopping failed: ${err.message}`);
          process.exit(1);
        });
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
    },
    (err) => {
      console.error(`[hks] the platform did not start: ${err.message}`);
      process.exit(1);
    },
  );
}
