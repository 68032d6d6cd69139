'use strict';
/**
 * What the function SDK (`hexabase`, ../../sdk/hexabase) reads: the invocation running in the current async context
 * and the function's secret references. Published on a global symbol rather than through require, so the SDK works
 * wherever it was loaded from (the copy the build put in node_modules, or a user's own).
 */
const { AsyncLocalStorage } = require('async_hooks');

const KEY = Symbol.for('hexabase.runtime');
const store = new AsyncLocalStorage();
let secretRefs = [];

/** The function's config.secrets ({env, secret, key}); in http mode they come as HKS_SECRET_REFS (JSON). */
function setSecretRefs(refs) {
  secretRefs = Array.isArray(refs) ? refs.filter((r) => r && typeof r.env === 'string' && typeof r.secret === 'string') : [];
}

function secretRefsFromEnv() {
  try {
    setSecretRefs(JSON.parse(process.env.HKS_SECRET_REFS || '[]'));
  } catch {
    setSecretRefs([]);
  }
}

/** Runs `fn` with `context` as the invocation the SDK sees. */
function withContext(context, fn) {
  return store.run(context, fn);
}

globalThis[KEY] = {
  protocol: 1,
  context: () => store.getStore(),
  secretRefs: () => secretRefs,
};

module.exports = { setSecretRefs, secretRefsFromEnv, withContext };
