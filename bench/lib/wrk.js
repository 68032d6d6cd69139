'use strict';
// One load generator for every target of a bench: wrk when it is on the machine (installed from Debian's packages
// when missing and allowed), else the Node keep-alive load generator beside this file, in its own process either way.
const { spawn, spawnSync } = require('child_process');
const path = require('path');

const UNIT_US = { us: 1, ms: 1000, s: 1_000_000 };

/** "48.12us" / "1.20ms" / "2.00s" -> microseconds. */
function durationUs(text) {
  const m = /^([\d.]+)(us|ms|s)$/.exec(text.trim());
  if (!m) throw new Error(`not a wrk duration: ${text}`);
  return Number(m[1]) * UNIT_US[m[2]];
}

/** wrk --latency output -> {requests, seconds, rps, errors, latencyUs: {p50, p99}}. */
function parseWrk(text) {
  const need = (re, what) => {
    const m = re.exec(text);
    if (!m) throw new Error(`wrk output has no ${what}:\n${text}`);
    return m;
  };
  const done = need(/(\d+) requests in ([\d.]+)(us|ms|s)/, 'request count');
  const requests = Number(done[1]);
  const seconds = durationUs(`${done[2]}${done[3]}`) / 1e6;
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(text);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(text);
  const errors = (non2xx ? Number(non2xx[1]) : 0) + (socket ? socket.slice(1).reduce((a, b) => a + Number(b), 0) : 0);
  const at = (q) => {
    const m = new RegExp(`^\\s+${q}%\\s+([\\d.]+(?:us|ms|s))\\s*$`, 'm').exec(text);
    return m ? durationUs(m[1]) : undefined;
  };
  return { requests, seconds, rps: Number(need(/Requests\/sec:\s+([\d.]+)/, 'Requests/sec')[1]), errors, latencyUs: { p50: at(50), p99: at(99) } };
}

const hasWrk = () => spawnSync('wrk', ['--version'], { stdio: 'ignore' }).error === undefined;

/** wrk, installed with apt-get when it is missing and `install` is set; false when neither works. */
function ensureWrk({ install, say }) {
  if (hasWrk()) return true;
  if (!install) return false;
  say('wrk is missing: apt-get update && apt-get install -y wrk');
  const update = spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', timeout: 120_000 });
  if (update.status === 0) spawnSync('apt-get', ['install', '-y', '-qq', 'wrk'], { stdio: 'ignore', timeout: 180_000 });
  return hasWrk();
}

function run(cmd, args, env = process.env) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} exited with ${code}: ${err || out}`))));
  });
}

/**
 * A load generator bound to one tool: load(url, {connections, seconds, headers}) -> {requests, seconds, rps, errors,
 * latencyUs}. Closed loop on keep-alive connections, as wrk does.
 */
function loadGenerator({ useWrk }) {
  if (useWrk) {
    return {
      name: 'wrk',
      async load(url, { connections, seconds, headers = {} }) {
        const threads = Math.min(connections, 2);
        const args = ['-t', String(threads), '-c', String(connections), '-d', `${seconds}s`, '--latency', '--timeout', '10s'];
        for (const [k, v] of Object.entries(headers)) args.push('-H', `${k}: ${v}`);
        return parseWrk(await run('wrk', [...args, url]));
      },
    };
  }
  return {
    name: 'node load generator (bench/lib/load-generator.js)',
    async load(url, { connections, seconds, headers = {} }) {
      const env = { ...process.env, LOAD_HEADERS: JSON.stringify(headers) };
      return JSON.parse(await run(process.execPath, [path.join(__dirname, 'load-generator.js'), url, String(connections), String(seconds)], env));
    },
  };
}

module.exports = { durationUs, parseWrk, ensureWrk, loadGenerator };
