#!/usr/bin/env node
// After `tsc`, turns `require("@platform/<lib>")` into relative paths so dist/ runs on plain Node.
const fs = require('fs');
const path = require('path');

const dist = path.resolve(__dirname, '..', 'dist');

function walk(dir) {
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) walk(full);
    else if (entry.name.endsWith('.js')) rewrite(full);
  }
}

function rewrite(file) {
  const text = fs.readFileSync(file, 'utf8');
  if (!text.includes('@platform/')) return;
  // `@platform/<lib>` is the lib's index; `@platform/<lib>/<entry>` one of its light entry points (src/<entry>.js).
  const out = text.replace(/require\((["'])@platform\/([a-z-]+)(?:\/([a-z-]+))?\1\)/g, (_m, q, lib, entry) => {
    let rel = path.relative(path.dirname(file), path.join(dist, 'libs', lib, 'src', `${entry ?? 'index'}.js`));
    if (!rel.startsWith('.')) rel = './' + rel;
    return `require(${q}${rel}${q})`;
  });
  if (out !== text) fs.writeFileSync(file, out);
}

if (fs.existsSync(dist)) walk(dist);
