'use strict';
/**
 * HTTP server mode: the entrypoint of a function's OCI image (Knative). Listens on PORT and runs the
 * handler for every request, HTTP style, or data style when the invoker says so with the header
 * x-hks-invocation-style: data. Code from HKS_CODE_DIR (default: the working directory), entry point
 * from HKS_ENTRYPOINT or the bundle's .hks/manifest.json.
 */
const http = require('http');
const path = require('path');
const { randomUUID } = require('crypto');
const { loadHandler, manifestEntrypoint } = require('./loader');
const { secretRefsFromEnv } = require('./sdk-bridge');
const { dataInput, httpInput, parseQuery } = require('./contract');
const { invoke } = require('./invocation');

const STYLE_HEADER = 'x-hks-invocation-style';
const DEFAULT_LIMIT = 6 * 1024 * 1024;

function intEnv(name, fallback) {
  const n = Number(process.env[name]);
  return Number.isInteger(n) && n > 0 ? n : fallback;
}

function answer(res, statusCode, headers, body) {
  res.writeHead(statusCode, { ...headers, 'content-length': body.length });
  res.end(body);
}

function fail(res, statusCode, error, message) {
  answer(res, statusCode, { 'content-type': 'application/json' }, Buffer.from(JSON.stringify({ statusCode, error, message })));
}

async function runHttpServer() {
  const codeDir = path.resolve(process.env.HKS_CODE_DIR || process.cwd());
  const entrypoint = process.env.HKS_ENTRYPOINT || manifestEntrypoint(codeDir) || 'handler.*';
  let handler;
  try {
    secretRefsFromEnv();
    handler = await loadHandler(codeDir, entrypoint);
  } catch (err) {
    process.stderr.write(`the function could not be loaded: ${err.message}\n`);
    process.exit(1);
  }
  const fn = {
    functionId: process.env.HKS_FUNCTION_ID,
    label: process.env.HKS_FUNCTION_LABEL || process.env.K_SERVICE,
    version: intEnv('HKS_FUNCTION_VERSION', undefined),
    memoryMb: intEnv('HKS_MEMORY_MB', undefined),
    timeoutMs: intEnv('HKS_TIMEOUT_MS', 30000),
    maxResponseBytes: intEnv('HKS_MAX_RESPONSE_BYTES', DEFAULT_LIMIT),
  };
  const maxRequestBytes = intEnv('HKS_MAX_REQUEST_BYTES', DEFAULT_LIMIT);

  const server = http.createServer((req, res) => {
    const chunks = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c) => {
      size += c.length;
      if (size > maxRequestBytes) tooLarge = true;
      else chunks.push(c);
    });
    const respond = async () => {
      if (tooLarge) return fail(res, 413, 'Payload Too Large', `the request body exceeds the function's limit of ${maxRequestBytes} bytes`);
      const body = Buffer.concat(chunks, size);
      const q = req.url.indexOf('?');
      const pathname = q === -1 ? req.url : req.url.slice(0, q);
      const query = parseQuery(q === -1 ? '' : req.url.slice(q + 1));
      let input;
      if (req.headers[STYLE_HEADER] === 'data') {
        const data = dataInput(query, req.headers, body);
        if (data.error) return fail(res, 400, 'Bad Request', data.error);
        input = data.value;
      } else {
        input = httpInput(req.method, pathname, query, req.headers, body);
      }
      const ctx = { invocationId: req.headers['x-invocation-id'] || randomUUID(), deadline: Date.now() + fn.timeoutMs };
      const out = await invoke(handler, input, fn, ctx);
      if (!out.ok) {
        const e = out.error;
        process.stderr.write(`invocation ${ctx.invocationId} failed: ${e.stack || e.message}\n`);
        return fail(res, 500, 'Internal Server Error', e.code === 'RESPONSE_TOO_LARGE' ? e.message : `${e.name}: ${e.message}`);
      }
      answer(res, out.response.statusCode, out.response.headers, out.response.body);
    };
    req.on('end', () => {
      respond().catch((err) => {
        // A fault of the shim, not of the function (invoke() answers those with ok: false): a 500 for this
        // request rather than a crash of the server and of every request it holds.
        process.stderr.write(`answering ${req.method} ${req.url} failed: ${err.stack || err.message}\n`);
        if (res.headersSent) res.destroy();
        else fail(res, 500, 'Internal Server Error', 'the function server failed to answer this request');
      });
    });
  });
  server.keepAliveTimeout = 65000;
  const port = intEnv('PORT', 8080);
  server.listen(port, process.env.HOST || '0.0.0.0', () => process.stdout.write(`function ${fn.label || entrypoint} listening on :${port}\n`));
  const stop = () => server.close(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

module.exports = { runHttpServer, STYLE_HEADER };
