'use strict';
/**
 * One-shot mode, for trying a function by hand: reads {"data": X} (data style) or {"request": {method,
 * path, query, headers, body, isBase64Encoded}} (HTTP style) on stdin, runs the handler once and
 * prints {statusCode, headers, body, isBase64Encoded} (or {error}) as one JSON line on stdout. What the
 * handler prints goes to stderr. Options: --code DIR (default: working directory), --entrypoint E.
 */
const path = require('path');
const { randomUUID } = require('crypto');
const { loadHandler, manifestEntrypoint } = require('./loader');
const { secretRefsFromEnv } = require('./sdk-bridge');
const { httpInput, bodyIsText } = require('./contract');
const { invoke } = require('./invocation');

function option(args, name) {
  const i = args.indexOf(name);
  return i === -1 ? undefined : args[i + 1];
}

function readStdin() {
  return new Promise((resolve, reject) => {
    const chunks = [];
    process.stdin.on('data', (c) => chunks.push(c));
    process.stdin.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    process.stdin.on('error', reject);
  });
}

function inputFrom(message) {
  if (message && typeof message === 'object' && message.request && typeof message.request === 'object') {
    const r = message.request;
    const headers = {};
    for (const [k, v] of Object.entries(r.headers || {})) headers[k.toLowerCase()] = String(v);
    const body = typeof r.body === 'string' ? Buffer.from(r.body, r.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
    return httpInput(String(r.method || 'GET').toUpperCase(), r.path || '/', r.query || {}, headers, body);
  }
  return message && typeof message === 'object' && 'data' in message ? message.data : message;
}

async function runOnce(args) {
  const out = process.stdout.write.bind(process.stdout);
  // The handler's own output must not mix with the one JSON line this mode prints.
  process.stdout.write = process.stderr.write.bind(process.stderr);
  const codeDir = path.resolve(option(args, '--code') || process.cwd());
  const entrypoint = option(args, '--entrypoint') || manifestEntrypoint(codeDir) || 'handler.*';
  let result;
  try {
    const text = await readStdin();
    const message = text.trim() ? JSON.parse(text) : {};
    secretRefsFromEnv();
    const handler = await loadHandler(codeDir, entrypoint);
    const fn = { timeoutMs: 30000, maxResponseBytes: 6 * 1024 * 1024 };
    const r = await invoke(handler, inputFrom(message), fn, { invocationId: randomUUID() });
    if (r.ok) {
      const binary = !bodyIsText(r.response.headers['content-type'] || '', r.response.body);
      result = {
        statusCode: r.response.statusCode,
        headers: r.response.headers,
        body: r.response.body.toString(binary ? 'base64' : 'utf8'),
        isBase64Encoded: binary,
      };
    } else {
      result = { statusCode: 500, error: r.error };
    }
  } catch (err) {
    result = { statusCode: 500, error: { name: err.name || 'Error', message: err.message } };
  }
  out(JSON.stringify(result) + '\n');
  process.exitCode = result.error ? 1 : 0;
}

module.exports = { runOnce };
