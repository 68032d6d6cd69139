'use strict';
/**
 * Finds a function's handler from its entry point "<module>.<function>" ("<module>.*" auto-detects:
 * module.exports.handle, then the default export, then module.exports itself when it is a function).
 */
const fs = require('fs');
const path = require('path');
const { pathToFileURL } = require('url');

const EXTENSIONS = ['', '.js', '.cjs', '.mjs'];

class LoadError extends Error {
  constructor(message) {
    super(message);
    this.name = 'LoadError';
  }
}

function splitEntrypoint(entrypoint) {
  const dot = typeof entrypoint === 'string' ? entrypoint.lastIndexOf('.') : -1;
  if (dot <= 0 || dot === entrypoint.length - 1) {
    throw new LoadError(`entry point "${entrypoint}" must look like "<module>.<function>", e.g. "handler.handle" or "handler.*"`);
  }
  return { module: entrypoint.slice(0, dot), fn: entrypoint.slice(dot + 1) };
}

function isFile(p) {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function moduleFile(codeDir, module) {
  const base = path.resolve(codeDir, module);
  if (base !== codeDir && !base.startsWith(codeDir + path.sep)) throw new LoadError(`entry module "${module}" is outside the function's code`);
  const tried = [];
  for (const stem of [base, path.join(base, 'index')]) {
    for (const ext of EXTENSIONS) {
      if (stem !== base && ext === '') continue;
      const candidate = stem + ext;
      tried.push(path.relative(codeDir, candidate));
      if (isFile(candidate)) return candidate;
    }
  }
  throw new LoadError(`cannot find the entry module "${module}" in the function's code (looked for ${tried.join(', ')})`);
}

async function importModule(file) {
  if (file.endsWith('.mjs')) return import(pathToFileURL(file).href);
  try {
    return require(file);
  } catch (err) {
    // A package with "type": "module" makes .js files ES modules.
    if (err && err.code === 'ERR_REQUIRE_ESM') return import(pathToFileURL(file).href);
    throw err;
  }
}

function exportedNames(mod) {
  if (mod === null || (typeof mod !== 'object' && typeof mod !== 'function')) return 'nothing';
  const names = Object.keys(mod);
  return names.length ? names.join(', ') : 'nothing';
}

function pick(mod, fn) {
  const defaultExport = mod && typeof mod === 'object' ? mod.default : undefined;
  if (fn === '*') {
    if (mod && typeof mod.handle === 'function') return mod.handle;
    if (typeof defaultExport === 'function') return defaultExport;
    if (defaultExport && typeof defaultExport.handle === 'function') return defaultExport.handle;
    if (typeof mod === 'function') return mod;
    return undefined;
  }
  if (mod && typeof mod[fn] === 'function') return mod[fn];
  if (fn === 'default' && typeof mod === 'function') return mod;
  // CommonJS compiled from ESM and vice versa: the names may sit on the default export.
  if (defaultExport && typeof defaultExport[fn] === 'function') return defaultExport[fn];
  return undefined;
}

/** Loads the handler function, or throws a LoadError that says what is wrong in the user's terms. */
async function loadHandler(codeDir, entrypoint) {
  const { module, fn } = splitEntrypoint(entrypoint);
  const file = moduleFile(codeDir, module);
  let mod;
  try {
    mod = await importModule(file);
  } catch (err) {
    const e = new LoadError(`loading ${path.relative(codeDir, file)} failed: ${err && err.stack ? err.stack.split('\n').slice(0, 6).join('\n') : err}`);
    throw e;
  }
  const handler = pick(mod, fn);
  if (!handler) {
    const wanted = fn === '*' ? 'a handler (module.exports.handle, a default export or module.exports as a function)' : `a function named "${fn}"`;
    throw new LoadError(`${path.relative(codeDir, file)} does not export ${wanted}; it exports ${exportedNames(mod)}`);
  }
  return handler;
}

/** The entry point from the bundle's .hks/manifest.json, when the caller names none. */
function manifestEntrypoint(codeDir) {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(codeDir, '.hks', 'manifest.json'), 'utf8'));
    return typeof manifest.entrypoint === 'string' ? manifest.entrypoint : undefined;
  } catch {
    return undefined;
  }
}

module.exports = { loadHandler, manifestEntrypoint, splitEntrypoint, LoadError };
