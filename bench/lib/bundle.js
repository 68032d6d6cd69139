'use strict';
/** A function bundle (files at the top, .hks/manifest.json) written as a tar where the invoker looks for it. */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');

const RUNTIMES = path.resolve(__dirname, '..', '..', 'dist', 'libs', 'runtimes', 'src');

/** The build's own deterministic tar, from dist/ (the bench runs the platform from there anyway). */
function deterministicTar(entries) {
  if (!fs.existsSync(path.join(RUNTIMES, 'index.js'))) throw new Error(`${RUNTIMES} is missing: run \`npm run build\` first`);
  return require(RUNTIMES).deterministicTar(entries);
}

async function writeBundle(dataDir, family, entrypoint, files) {
  const all = { ...files, '.hks/manifest.json': JSON.stringify({ family, runtime: family, template: family, entrypoint }) };
  const bytes = await deterministicTar(Object.entries(all).map(([name, data]) => ({ path: name, type: 'file', data: Buffer.from(data) })));
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  const dir = path.join(dataDir, 'artifacts', 'sha256');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${hex}.tar`), bytes);
  return `sha256:${hex}`;
}

module.exports = { writeBundle };
