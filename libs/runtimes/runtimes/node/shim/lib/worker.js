'use strict';
/**
 * Worker mode: a generic worker started (in its sandbox) before it knows its function. It says HELLO
 * on fd 3, waits for LOAD (entry point, env, limits), then serves INVOKE frames until the invoker goes
 * away. See protocol.js for the frames.
 */
const fs = require('fs');
const net = require('net');
const { Frame, encodeJson, encodeResult, encodeLog, FrameReader } = require('./protocol');
const { loadHandler } = require('./loader');
const { captureOutput, withInvocation, currentInvocation } = require('./capture');
const { invoke, describeError } = require('./invocation');
const { setSecretRefs } = require('./sdk-bridge');

const CONTROL_FD = 3;
const O_CLOEXEC = 0o2000000;
/** Largest frame the invoker may send: requests are capped at 100 MiB and travel as base64 inside JSON. */
const MAX_INBOUND_FRAME = 160 * 1024 * 1024;
/** Per invocation, output beyond this is counted but not sent (the invoker keeps 64 KiB anyway). */
const LOG_LIMIT = 64 * 1024;

/**
 * Closes descriptors inherited by accident from whatever started the invoker. They lack O_CLOEXEC,
 * which tells them apart from the runtime's own (all opened with it); 0-2 and the control socket stay.
 */
function closeLeakedFds() {
  let fds;
  try {
    fds = fs.readdirSync('/proc/self/fd');
  } catch {
    return;
  }
  for (const name of fds) {
    const fd = Number(name);
    if (!(fd > CONTROL_FD)) continue;
    try {
      const flags = /flags:\s*([0-7]+)/.exec(fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'));
      if (flags && (parseInt(flags[1], 8) & O_CLOEXEC) === 0) fs.closeSync(fd);
    } catch {
      // Gone meanwhile (it was the directory listing's own descriptor).
    }
  }
}

function runWorker() {
  closeLeakedFds();
  const baseEnv = { ...process.env };
  const socket = new net.Socket({ fd: CONTROL_FD, readable: true, writable: true });
  // Results settled in the same microtask checkpoint (say, many quick invocations of one read) leave in one
  // writev. What must not wait - HELLO, LOADED, log lines written before a handler blocks or crashes - is
  // written at once.
  let outbox = [];
  const flush = () => {
    const out = outbox;
    outbox = [];
    if (out.length === 1) return void socket.write(out[0]);
    socket.cork();
    for (const f of out) socket.write(f);
    socket.uncork();
  };
  const send = (frames) => {
    if (outbox.length === 0) process.nextTick(flush);
    for (const f of frames) outbox.push(f);
  };
  const sendNow = (frames) => {
    if (outbox.length) flush();
    for (const f of frames) socket.write(f);
  };
  const logBytes = new Map();
  const inflight = new Map();
  let fn = null;
  let handler = null;

  captureOutput((id, fd, text) => {
    if (id !== 0) {
      const sent = logBytes.get(id);
      if (sent === undefined) return; // The invocation already answered.
      logBytes.set(id, sent + text.length);
      if (sent >= LOG_LIMIT) return;
      if (sent + text.length > LOG_LIMIT) text = text.slice(0, LOG_LIMIT - sent);
    }
    sendNow(encodeLog(id, fd, text));
  });

  // An exception no handler caught (a stray callback) fails the invocation it belongs to, not the worker.
  process.on('uncaughtException', (err) => {
    const id = currentInvocation() || (inflight.size === 1 ? inflight.keys().next().value : 0);
    const entry = inflight.get(id);
    if (entry) entry.fail(describeError(err));
    else process.stderr.write(`uncaught exception outside any invocation: ${err && err.stack ? err.stack : err}\n`);
  });

  // Invocations may be sent right behind LOAD (no round trip on a cold start): they wait for the load.
  let loading = null;
  let loadFailure = null;
  const onLoad = (body) => {
    if (fn || loading) return send(encodeJson(Frame.LOAD_ERROR, 0, { name: 'LoadError', message: 'this worker already runs a function' }));
    const started = process.hrtime.bigint();
    loading = (async () => {
      try {
        const spec = JSON.parse(body.toString('utf8'));
        for (const key of Object.keys(process.env)) delete process.env[key];
        Object.assign(process.env, baseEnv, spec.env || {});
        setSecretRefs(spec.secrets);
        const codeDir = spec.codeDir || '/code';
        process.chdir(codeDir);
        handler = await loadHandler(codeDir, spec.entrypoint);
        fn = spec;
        // Every invocation runs on the one event loop: as many at once as the invoker sends.
        sendNow(encodeJson(Frame.LOADED, 0, { ms: Number(process.hrtime.bigint() - started) / 1e6, concurrency: spec.concurrency || 1 }));
      } catch (err) {
        loadFailure = describeError(err);
        sendNow(encodeJson(Frame.LOAD_ERROR, 0, loadFailure));
      }
    })().finally(() => {
      loading = null;
    });
  };

  const finish = (id, out) => {
    const entry = inflight.get(id);
    if (!entry || entry.done) return;
    entry.done = true;
    inflight.delete(id);
    const logged = logBytes.get(id) || 0;
    logBytes.delete(id);
    if (logged > LOG_LIMIT) send(encodeLog(id, 2, `\n...[logs truncated: ${logged - LOG_LIMIT} more characters]\n`));
    if (out.ok) {
      const r = out.response;
      send(encodeResult(id, { statusCode: r.statusCode, headers: r.headers, json: r.json }, r.body));
    } else {
      send(encodeJson(Frame.ERROR, id, out.error));
    }
  };

  const onInvoke = (id, body) => {
    if (!handler) {
      if (loading) return void loading.then(() => onInvoke(id, body));
      const error = loadFailure
        ? { name: 'LoadError', message: `the function could not be loaded: ${loadFailure.message}` }
        : { name: 'StateError', message: 'no function is loaded in this worker' };
      return send(encodeJson(Frame.ERROR, id, error));
    }
    let request;
    try {
      request = JSON.parse(body.toString('utf8'));
    } catch (err) {
      return send(encodeJson(Frame.ERROR, id, { name: 'ProtocolError', message: `unreadable invocation: ${err.message}` }));
    }
    logBytes.set(id, 0);
    inflight.set(id, { done: false, fail: (error) => finish(id, { ok: false, error }) });
    withInvocation(id, () => invoke(handler, request.input, fn, request.ctx || {})).then((out) => finish(id, out));
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
  // The invoker is gone: nothing left to serve.
  socket.on('close', () => process.exit(0));
  socket.on('error', () => process.exit(0));
  // Before saying HELLO: the first asynchronous fs call starts libuv's thread pool (so those threads exist
  // before the invoker caps the worker's processes and never count against the function's allowance), and
  // one module loaded and one invocation through the whole path (module resolution and compilation,
  // AsyncLocalStorage, handler call, response encoding) compile it, so a cold start does not pay for that
  // (loading a one-line function took half as long: about 0.7 ms instead of 1.5).
  fs.stat('/', () => {
    const debug = process.env.HKS_DEBUG_DIR ? require('./inspector-relay').openInspector(process.env.HKS_DEBUG_DIR) : Promise.resolve();
    debug
      .then(() => loadHandler(__dirname, 'warm-up.handle'))
      .then((warm) => withInvocation(0, () => invoke(warm, JSON.parse('{"warm":true}'), { maxResponseBytes: 1024 }, { invocationId: 'warm-up' })))
      .then((out) => {
        encodeResult(0, { statusCode: out.response.statusCode, headers: out.response.headers, json: out.response.json }, out.response.body);
        sendNow(encodeJson(Frame.HELLO, 0, { runtime: 'node', version: process.version }));
      })
      .catch((err) => {
        process.stderr.write(`the worker could not warm up: ${err && err.stack ? err.stack : err}\n`);
        process.exit(70);
      });
  });
}

module.exports = { runWorker, closeLeakedFds };
