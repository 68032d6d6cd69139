'use strict';
/**
 * The function contract, both directions: what a handler receives for an HTTP request (data style or
 * HTTP style) and how its return value becomes an HTTP response. The invoker builds inputs with this
 * module too, so the local workers, the OCI images' HTTP server and `hks function test` agree.
 */
const querystring = require('querystring');
const { isUtf8 } = require('buffer');

const TEXT_TYPE = /^\s*(text\/|application\/([\w.+-]*\+)?(json|xml|javascript|x-www-form-urlencoded|graphql|yaml|x-yaml|x-ndjson|ld\+json)\b)/i;
const BINARY_TYPE = /^\s*((image|audio|video|font)\/|application\/(octet-stream|pdf|zip|gzip|x-tar|wasm|x-protobuf|protobuf|msgpack|x-msgpack)\b)/i;
const JSON_TYPE = /^\s*application\/([\w.+-]*\+)?json\b/i;

/** Whether a body is handed over as text (else base64): by its content type, else by whether it is UTF-8. */
function bodyIsText(contentType, body) {
  if (body.length === 0) return true;
  if (contentType) {
    if (TEXT_TYPE.test(contentType)) return true;
    if (BINARY_TYPE.test(contentType)) return false;
  }
  return isUtf8(body);
}

/** "a=1&a=2&b=x" -> {a: ["1", "2"], b: "x"} as a plain object. */
function parseQuery(qs) {
  if (!qs) return {};
  return { ...querystring.parse(qs) };
}

function isPlainObject(v) {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v);
}

function looksLikeJsonObject(text) {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d) continue;
    return c === 0x7b; // "{"
  }
  return false;
}

/**
 * Data style: {"data": X} -> X; a JSON body without "data" -> the whole body; no body -> the query
 * parameters ({"a": "1"} for ?a=1); other text -> the text; binary -> base64 text.
 * Returns {value} or {error} (a message for a 400).
 */
function dataInput(query, headers, body) {
  if (body.length === 0) return { value: query };
  const contentType = headers['content-type'] || '';
  const isJsonType = JSON_TYPE.test(contentType);
  if (!bodyIsText(contentType, body)) return { value: body.toString('base64') };
  const text = body.toString('utf8');
  if (isJsonType || !contentType) {
    try {
      const parsed = JSON.parse(text);
      return { value: isPlainObject(parsed) && Object.prototype.hasOwnProperty.call(parsed, 'data') ? parsed.data : parsed };
    } catch (err) {
      if (isJsonType) return { error: `The request body is not valid JSON (${err.message}); send {"data": ...} or drop the JSON content type` };
    }
  }
  return { value: text };
}

/**
 * HTTP style: {method, path, query, headers, body, isBase64Encoded} plus the top-level fields of a
 * JSON object body (the request's own fields win a name clash).
 */
function httpInput(method, path, query, headers, body) {
  const contentType = headers['content-type'] || '';
  const text = bodyIsText(contentType, body);
  const request = {
    method,
    path: path || '/',
    query,
    headers,
    body: text ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !text,
  };
  if (text && body.length && (JSON_TYPE.test(contentType) || (!contentType && looksLikeJsonObject(request.body)))) {
    let parsed;
    try {
      parsed = JSON.parse(request.body);
    } catch {
      parsed = undefined; // Not JSON after all: the handler still has the raw body.
    }
    if (isPlainObject(parsed)) {
      for (const key of Object.keys(parsed)) if (!(key in request)) request[key] = parsed[key];
    }
  }
  return request;
}

const RESPONSE_KEYS = new Set(['statusCode', 'headers', 'body', 'isBase64Encoded', 'multiValueHeaders', 'cookies']);
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'content-length', 'upgrade', 'trailer', 'te', 'proxy-connection']);

/** {statusCode: 100..599, ...only response fields} is an HTTP response; anything else is a value. */
function isHttpResponse(v) {
  if (!isPlainObject(v) || !Number.isInteger(v.statusCode) || v.statusCode < 100 || v.statusCode > 599) return false;
  for (const key of Object.keys(v)) if (!RESPONSE_KEYS.has(key)) return false;
  return true;
}

class ContractError extends Error {
  constructor(message) {
    super(message);
    this.name = 'ContractError';
  }
}

function cleanHeaders(raw) {
  const out = {};
  if (!isPlainObject(raw)) return out;
  for (const [name, value] of Object.entries(raw)) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || value === undefined || value === null) continue;
    out[lower] = Array.isArray(value) ? value.map(String) : String(value);
  }
  return out;
}

/**
 * A handler's return value -> {statusCode, headers, body: Buffer, json}. `json` says the body is the
 * JSON of a plain value (the invoker then records the value itself in the invocation event).
 */
function toResponse(result) {
  if (isHttpResponse(result)) {
    const headers = cleanHeaders(result.headers);
    if (isPlainObject(result.multiValueHeaders)) {
      for (const [name, values] of Object.entries(result.multiValueHeaders)) {
        if (Array.isArray(values) && !HOP_BY_HOP.has(name.toLowerCase())) headers[name.toLowerCase()] = values.map(String);
      }
    }
    if (Array.isArray(result.cookies) && result.cookies.length) headers['set-cookie'] = result.cookies.map(String);
    let body;
    const b = result.body;
    if (b === undefined || b === null) body = Buffer.alloc(0);
    else if (typeof b === 'string') body = Buffer.from(b, result.isBase64Encoded ? 'base64' : 'utf8');
    else if (Buffer.isBuffer(b) || b instanceof Uint8Array) body = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    else {
      body = Buffer.from(stringify(b), 'utf8');
      if (!headers['content-type']) headers['content-type'] = 'application/json';
    }
    if (!headers['content-type'] && body.length) {
      headers['content-type'] = typeof b === 'string' && !result.isBase64Encoded ? 'text/plain; charset=utf-8' : 'application/octet-stream';
    }
    return { statusCode: result.statusCode, headers, body, json: false };
  }
  if (Buffer.isBuffer(result) || result instanceof Uint8Array) {
    return {
      statusCode: 200,
      headers: { 'content-type': 'application/octet-stream' },
      body: Buffer.from(result.buffer, result.byteOffset, result.byteLength),
      json: false,
    };
  }
  return {
    statusCode: 200,
    headers: { 'content-type': 'application/json' },
    body: Buffer.from(stringify(result === undefined ? null : result), 'utf8'),
    json: true,
  };
}

function stringify(value) {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? 'null' : text;
  } catch (err) {
    throw new ContractError(`the handler's return value cannot be turned into JSON: ${err.message}`);
  }
}

module.exports = { bodyIsText, parseQuery, dataInput, httpInput, isHttpResponse, toResponse, ContractError };
