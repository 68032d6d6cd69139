'use strict';
/**
 * The function SDK for Node.js: `const { getSecret, logger } = require('hexabase')`, or `import { getSecret } from
 * 'hexabase'` (ES modules and TypeScript). It reads what the runtime's shim publishes (shim/lib/sdk-bridge.js).
 */
const KEY = Symbol.for('hexabase.runtime');

function runtime() {
  const r = globalThis[KEY];
  if (!r) throw new Error('hexabase: not running in a function of the platform (no runtime shim loaded)');
  return r;
}

/** The current invocation's context ({invocationId, deadline, functionId, ...}), or undefined outside one. */
function context() {
  return runtime().context();
}

/** The id of the invocation being handled (as in its events and logs), or undefined outside one. */
function invocationId() {
  const c = context();
  return c ? c.invocationId : undefined;
}

/** Milliseconds left before the invocation's time limit (resources.timeoutMs), or undefined outside one. */
function remainingTimeMs() {
  const c = context();
  return c ? Math.max(0, c.deadline - Date.now()) : undefined;
}

/**
 * The value of one of the function's secrets (config.secrets), by the secret's name ("openai-key"), by
 * "name/key" for another key of it, or by the variable it is mapped to ("OPENAI_API_KEY"). Throws, naming the
 * function's secrets, for one it was not given.
 */
function getSecret(name) {
  if (typeof name !== 'string' || !name) throw new TypeError('getSecret(name): name must be a non-empty string');
  const refs = runtime().secretRefs();
  const ref =
    refs.find((r) => r.secret === name && (r.key || 'value') === 'value') ||
    refs.find((r) => `${r.secret}/${r.key || 'value'}` === name) ||
    refs.find((r) => r.secret === name) ||
    refs.find((r) => r.env === name);
  if (!ref) {
    const given = refs.map((r) => `${r.secret}${r.key && r.key !== 'value' ? `/${r.key}` : ''} (${r.env})`).join(', ') || 'none';
    throw new Error(`hexabase: "${name}" is not one of this function's secrets (config.secrets gives: ${given})`);
  }
  const value = process.env[ref.env];
  if (value === undefined) throw new Error(`hexabase: secret "${ref.secret}" was not delivered to this worker (variable ${ref.env} is unset)`);
  return value;
}

function line(level, args) {
  const text = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.stack || a.message : JSON.stringify(a))).join(' ');
  return `[${invocationId() || '-'}] ${level} ${text}\n`;
}

/** Writes lines tagged with the invocation id: "[<invocation id>] INFO message". */
const logger = {
  debug: (...args) => void process.stdout.write(line('DEBUG', args)),
  info: (...args) => void process.stdout.write(line('INFO', args)),
  warn: (...args) => void process.stderr.write(line('WARN', args)),
  error: (...args) => void process.stderr.write(line('ERROR', args)),
};

exports.getSecret = getSecret;
exports.invocationId = invocationId;
exports.remainingTimeMs = remainingTimeMs;
exports.context = context;
exports.logger = logger;
