'use strict';
/**
 * Captures what a handler prints. console.* and process.stdout/stderr.write go through `sink(id, fd,
 * text)`, where `id` is the invocation whose async context the write happens in (AsyncLocalStorage),
 * so concurrent invocations on one worker each get their own logs. Output of child processes still
 * goes to the worker's real fds 1/2, which the invoker reads separately.
 */
const { AsyncLocalStorage } = require('async_hooks');

const current = new AsyncLocalStorage();

function redirect(stream, fd, sink) {
  stream.write = function write(chunk, encoding, callback) {
    if (typeof encoding === 'function') {
      callback = encoding;
      encoding = undefined;
    }
    const text =
      typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' && Buffer.isEncoding(encoding) ? encoding : 'utf8');
    sink(current.getStore() || 0, fd, text);
    if (typeof callback === 'function') process.nextTick(callback);
    return true;
  };
}

function captureOutput(sink) {
  redirect(process.stdout, 1, sink);
  redirect(process.stderr, 2, sink);
}

/** Runs `fn` with writes attributed to invocation `id`. */
function withInvocation(id, fn) {
  return current.run(id, fn);
}

function currentInvocation() {
  return current.getStore() || 0;
}

module.exports = { captureOutput, withInvocation, currentInvocation };
