'use strict';
/** A function bundle (files at the top, .hks/manifest.json) written as a tar where the invoker looks for it. */
const crypto = require('crypto');
const fs = require('fs');
const path = require('path');
const tar = require('tar-stream');

async function writeBundle(dataDir, family, entrypoint, files) {
  const all = { ...files, '.hks/manifest.json': JSON.stringify({ family, runtime: family, template: family, entrypoint }) };
  const pack = tar.pack();
  const chunks = [];
  const done = new Promise((resolve, reject) => {
    pack.on('data', (c) => chunks.push(c));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const name of Object.keys(all).sort()) pack.entry({ name, mode: 0o644, mtime: new Date(0) }, Buffer.from(all[name]));
  pack.finalize();
  const bytes = await done;
  const hex = crypto.createHash('sha256').update(bytes).digest('hex');
  const dir = path.join(dataDir, 'artifacts', 'sha256');
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, `${hex}.tar`), bytes);
  return `sha256:${hex}`;
}

module.exports = { writeBundle };
