#!/usr/bin/env node
// After the build, makes every "bin" of package.json executable (tsc writes 0644), so `npm link` / `npm install -g .`
// and a direct ./dist/apps/cli/src/main.js run `hks` through its "#!/usr/bin/env node" line.
'use strict';
const fs = require('fs');
const path = require('path');

const root = path.resolve(__dirname, '..');
const { bin = {} } = require(path.join(root, 'package.json'));
for (const rel of Object.values(typeof bin === 'string' ? { main: bin } : bin)) {
  const file = path.join(root, rel);
  if (!fs.existsSync(file)) {
    console.error(`mark-bin-executable: ${rel} was not built`);
    process.exitCode = 1;
    continue;
  }
  if (!fs.readFileSync(file, 'utf8').startsWith('#!')) {
    console.error(`mark-bin-executable: ${rel} does not start with a "#!" line`);
    process.exitCode = 1;
    continue;
  }
  fs.chmodSync(file, fs.statSync(file).mode | 0o111);
}
