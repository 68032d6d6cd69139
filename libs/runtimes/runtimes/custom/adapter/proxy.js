'use strict';
/**
 * Proxy mode: the worker of a function that is its own HTTP server (the custom runtime, a user's OCI
 * image). It speaks the frame protocol on fd 3 like any worker; at LOAD it starts the function's process
 * with PORT set, waits until that process accepts connections on 127.0.0.1:PORT (or its health path answers
 * 2xx), and forwards each INVOKE to it as an HTTP request: the process's status, headers and body go back
 * as they are (the contract of OpenFaaS's of-watchdog http mode and of Knative containers). The process's
 * stdout/stderr become the logs of the invocation in flight. Everything runs in the worker's sandbox: its
 * network namespace (127.0.0.1 is the sandbox's own), its cgroup limits and its timeout.
 */
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { spawn } = require('child_process');
const { Frame, encodeJson, encodeResult, encodeLog, FrameReader } = require('../../node/shim/lib/protocol');
const { closeLeakedFds } = require('../../node/shim/lib/worker');

const CONTROL_FD = 3;
const MAX_INBOUND_FRAME = 160 * 1024 * 1024;
const LOG_LIMIT = 64 * 1024;
/** What a failed start quotes of the process's own output. */
const TAIL_LIMIT = 4 * 1024;
const DEFAULT_PORT = 8080;
const DEFAULT_READY_MS = 10_000;
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'trailer', 'te', 'proxy-connection', 'host']);

/** The argv of the function's process: `command` as given, else the entry point (`bootstrap`, `./serve --fast`). */
function commandOf(spec) {
  if (Array.isArray(spec.command) && spec.command.length) return spec.command.map(String);
  const words = String(spec.entrypoint || 'bootstrap')
    .trim()
    .split(/\s+/)
    .filter(Boolean);
  return words.length ? words : ['bootstrap'];
}

/** A relative program name is a file of the function (./bootstrap), not something looked up on PATH. */
function resolveProgram(program, cwd) {
  if (program.startsWith('/')) return program;
  if (program.includes('/') || fs.existsSync(path.join(cwd, program))) return path.resolve(cwd, program);
  return program;
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function connects(port) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => (s.destroy(), resolve(true)));
    s.once('error', () => (s.destroy(), resolve(false)));
  });
}

/** Whether GET path answers 2xx. */
function healthy(port, healthPath) {
  return new Promise((resolve) => {
    const req = http.get({ host: '127.0.0.1', port, path: healthPath, timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode >= 200 && res.statusCode < 300);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(false));
  });
}

/**
 * The HTTP request an invocation becomes. HTTP style: the caller's method, path, query, headers and body.
 * Data style (the data API, async invocations, queues and schedules): POST / with the data as JSON.
 */
function requestOf(input, ctx) {
  const httpStyle =
    ctx.style === 'http' ||
    (ctx.style === undefined &&
      input !== null &&
      typeof input === 'object' &&
      typeof input.method === 'string' &&
      typeof input.path === 'string' &&
      typeof input.isBase64Encoded === 'boolean');
  const platform = { 'x-hks-invocation-id': String(ctx.invocationId || ''), 'x-hks-deadline-ms': String(ctx.deadline || '') };
  if (!httpStyle) {
    const body = Buffer.from(JSON.stringify(input === undefined ? null : input), 'utf8');
    return { method: 'POST', path: '/', headers: { 'content-type': 'application/json', 'x-hks-invocation-style': 'data', ...platform }, body, style: 'data' };
  }
  const headers = {};
  for (const [name, value] of Object.entries(input.headers || {})) {
    if (!HOP_BY_HOP.has(name.toLowerCase()) && value !== undefined && value !== null) headers[name] = value;
  }
  Object.assign(headers, platform);
  const body = Buffer.from(input.body || '', input.isBase64Encoded ? 'base64' : 'utf8');
  const qs = new URLSearchParams();
  for (const [k, v] of Object.entries(input.query || {})) for (const one of Array.isArray(v) ? v : [v]) qs.append(k, String(one));
  const query = qs.toString();
  const p = input.path.startsWith('/') ? input.path : `/${input.path}`;
  return { method: input.method, path: query ? `${p}?${query}` : p, headers, body, style: 'http' };
}

function runProxy() {
  closeLeakedFds();
  const socket = new net.Socket({ fd: CONTROL_FD, readable: true, writable: true });
  const send = (frames) => {
    for (const f of frames) socket.write(f);
  };
  const inflight = new Map();
  const logBytes = new Map();
  const agent = new http.Agent({ keepAlive: true });
  let fn = null;
  let child = null;
  let port = DEFAULT_PORT;
  let exited = null;
  let tail = '';
  let loading = null;

  const log = (fd, text) => {
    tail = (tail + text).slice(-TAIL_LIMIT);
    // Output belongs to the one invocation in flight; with several at once (or none) it is the worker's own.
    const id = inflight.size === 1 ? inflight.keys().next().value : 0;
    if (id !== 0) {
      const sent = logBytes.get(id) || 0;
      logBytes.set(id, sent + text.length);
      if (sent >= LOG_LIMIT) return;
      if (sent + text.length > LOG_LIMIT) text = text.slice(0, LOG_LIMIT - sent);
    }
    send(encodeLog(id, fd, text));
  };

  const finish = (id, out) => {
    const entry = inflight.get(id);
    if (!entry) return;
    inflight.delete(id);
    const logged = logBytes.get(id) || 0;
    logBytes.delete(id);
    if (logged > LOG_LIMIT) send(encodeLog(id, 2, `\n...[logs truncated: ${logged - LOG_LIMIT} more characters]\n`));
    if (out.ok) send(encodeResult(id, out.meta, out.body));
    else send(encodeJson(Frame.ERROR, id, out.error));
  };

  const exitDescription = () => (exited.signal ? `was killed by ${exited.signal}` : `exited with code ${exited.code}`);
  const tailNote = () => (tail.trim() ? `; its last output: ${tail.trim().slice(-1000)}` : '');

  const start = async (spec) => {
    const started = process.hrtime.bigint();
    port = Number(spec.port) > 0 ? Number(spec.port) : DEFAULT_PORT;
    const cwd = spec.workingDir || spec.codeDir || '/code';
    const argv = commandOf(spec);
    const program = resolveProgram(argv[0], cwd);
    const env = { ...(spec.env || {}), PORT: String(port) };
    if (spec.startEnv) Object.assign(env, spec.startEnv);
    env.PORT = String(port);
    await new Promise((resolve, reject) => {
      child = spawn(program, argv.slice(1), { cwd, env, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
      // fd 3 of the child is a pipe of its own (not the control socket the worker inherited), closed at once.
      child.stdio[3].destroy();
      child.once('spawn', resolve);
      child.once('error', (err) =>
        reject(
          new Error(
            `could not start ${argv[0]}: ${err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'not executable' : err.message} (${program}, working directory ${cwd})`,
          ),
        ),
      );
    });
    child.stdout.on('data', (c) => log(1, c.toString('utf8')));
    child.stderr.on('data', (c) => log(2, c.toString('utf8')));
    child.once('exit', (code, signal) => {
      exited = { code, signal };
      // Let the pipes drain and the failed invocations answer, then go: the invoker replaces this worker.
      setTimeout(() => {
        for (const id of [...inflight.keys()]) {
          finish(id, {
            ok: false,
            error: { name: 'ProcessExited', message: `the function's process ${exitDescription()} during the invocation${tailNote()}` },
          });
        }
        if (fn) socket.end(() => process.exit(0));
      }, 50);
    });
    const readyMs = Number(spec.readyTimeoutMs) > 0 ? Number(spec.readyTimeoutMs) : DEFAULT_READY_MS;
    const until = Date.now() + readyMs;
    let pause = 2;
    for (;;) {
      if (exited) throw new Error(`the function's process ${exitDescription()} before it listened on port ${port}${tailNote()}`);
      if (await connects(port)) {
        if (!spec.healthPath || (await healthy(port, spec.healthPath))) break;
      }
      if (Date.now() > until) {
        child.kill('SIGKILL');
        throw new Error(
          `the function's process did not ${spec.healthPath ? `answer 2xx on ${spec.healthPath} at` : 'listen on'} 127.0.0.1:${port} ($PORT) within ${readyMs} ms${tailNote()}`,
        );
      }
      await new Promise((r) => setTimeout(r, pause));
      pause = Math.min(pause * 2, 50);
    }
    return Number(process.hrtime.bigint() - started) / 1e6;
  };

  const onLoad = (body) => {
    if (fn || loading) return send(encodeJson(Frame.LOAD_ERROR, 0, { name: 'LoadError', message: 'this worker already runs a function' }));
    let spec;
    try {
      spec = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return send(encodeJson(Frame.LOAD_ERROR, 0, { name: 'LoadError', message: `unreadable LOAD: ${err.message}` }));
    }
    loading = start(spec).then(
      (ms) => {
        fn = spec;
        send(encodeJson(Frame.LOADED, 0, { ms, concurrency: spec.concurrency || 1 }));
      },
      (err) => {
        send(encodeJson(Frame.LOAD_ERROR, 0, { name: 'LoadError', message: err.message }));
        if (child && !exited) child.kill('SIGKILL');
        // Nothing more this worker can do.
        socket.end(() => process.exit(0));
      },
    );
  };

  const forward = (id, request) => {
    const limit = fn.maxResponseBytes || 6 * 1024 * 1024;
    const r = requestOf(request.input, request.ctx || {});
    const headers = { ...r.headers, host: `127.0.0.1:${port}`, 'content-length': String(r.body.length) };
    const req = http.request({ host: '127.0.0.1', port, method: r.method, path: r.path, headers, agent }, (res) => {
      const chunks = [];
      let size = 0;
      res.on('data', (c) => {
        size += c.length;
        if (size > limit) {
          res.destroy();
          finish(id, {
            ok: false,
            error: {
              name: 'ResponseTooLarge',
              code: 'RESPONSE_TOO_LARGE',
              message: `the function's response exceeds its limit of ${limit} bytes (resources.maxResponseBytes)`,
            },
          });
          return;
        }
        chunks.push(c);
      });
      res.on('end', () => {
        const out = {};
        // A header sent several times stays a list (as a handler's multiValueHeaders would be), not joined with ", ".
        for (const [name, values] of Object.entries(res.headersDistinct)) {
          if (!HOP_BY_HOP.has(name)) out[name] = values.length === 1 ? values[0] : values;
        }
        const body = Buffer.concat(chunks, size);
        // Data style and a JSON answer: the event records the value, as for any handler's return value.
        const json = r.style === 'data' && res.statusCode === 200 && /^application\/json\b/i.test(String(res.headers['content-type'] || '')) && isJson(body);
        // What the process wrote just before answering is still in its pipes: read it first, so it is this invocation's.
        setImmediate(() => setImmediate(() => finish(id, { ok: true, meta: { statusCode: res.statusCode, headers: out, json }, body })));
      });
      res.on('error', () => undefined);
    });
    req.on('error', (err) => {
      // The process going away fails the invocation once it is known to have exited (with its exit status).
      if (exited || err.code === 'ECONNRESET' || err.code === 'ECONNREFUSED') {
        setTimeout(() => {
          if (exited) return; // The exit handler answers with the exit status.
          finish(id, {
            ok: false,
            error: { name: 'UpstreamError', message: `the function's process closed the connection without answering (${err.code || err.message})` },
          });
        }, 100);
        return;
      }
      finish(id, { ok: false, error: { name: 'UpstreamError', message: `could not reach the function's process on port ${port}: ${err.message}` } });
    });
    req.end(r.body);
  };

  const onInvoke = (id, body) => {
    if (!fn) {
      if (loading) return void loading.then(() => onInvoke(id, body));
      return send(encodeJson(Frame.ERROR, id, { name: 'StateError', message: 'no function is loaded in this worker' }));
    }
    if (exited) {
      return send(encodeJson(Frame.ERROR, id, { name: 'ProcessExited', message: `the function's process ${exitDescription()}${tailNote()}` }));
    }
    let request;
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return send(encodeJson(Frame.ERROR, id, { name: 'ProtocolError', message: `unreadable invocation: ${err.message}` }));
    }
    inflight.set(id, true);
    logBytes.set(id, 0);
    forward(id, request);
  };

  const reader = new FrameReader(MAX_INBOUND_FRAME, (type, id, body) => {
    if (type === Frame.INVOKE) onInvoke(id, body);
    else if (type === Frame.LOAD) onLoad(body);
  });
  socket.on('data', (chunk) => {
    try {
      reader.push(chunk);
    } catch (err) {
      process.stderr.write(`worker protocol error: ${err.message}\n`);
      process.exit(70);
    }
  });
  const quit = () => {
    if (child && !exited) child.kill('SIGKILL');
    process.exit(0);
  };
  socket.on('close', quit);
  socket.on('error', quit);
  send(encodeJson(Frame.HELLO, 0, { runtime: 'custom', version: process.version }));
}

function isJson(body) {
  try {
    JSON.parse(body.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

module.exports = { runProxy, requestOf, commandOf };
