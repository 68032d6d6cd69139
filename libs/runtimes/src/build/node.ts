import { existsSync, readdirSync } from 'fs';
import * as path from 'path';
import { buildStepEnv, firstMatchingLine, runCommand } from './command';
import { BuildFailure, BuildLogSink } from './errors';

export interface NpmOptions {
  /** Registry URL overriding npm's own configuration (HKS_NPM_REGISTRY). */
  registry?: string;
  /** The npm executable; `npm` from PATH by default. */
  npmCommand?: string;
  timeoutMs?: number;
}

/** Installs the production dependencies of a package.json, if the function ships one. */
export async function npmInstall(dir: string, log: BuildLogSink, o: NpmOptions = {}): Promise<boolean> {
  if (!existsSync(path.join(dir, 'package.json'))) return false;
  const args = ['install', '--omit=dev', '--ignore-scripts', '--no-audit', '--no-fund', '--prefer-offline', '--no-update-notifier'];
  if (o.registry) args.push(`--registry=${o.registry}`);
  const result = await runCommand(o.npmCommand ?? 'npm', args, {
    cwd: dir,
    log,
    timeoutMs: o.timeoutMs,
    env: buildStepEnv({ npm_config_color: 'false', npm_config_progress: 'false' }),
  });
  if (result.code !== 0) throw new BuildFailure(npmFailure(result.output));
  return true;
}

/** Turns npm's error output into the one line a person needs, naming the package when there is one. */
export function npmFailure(output: string): string {
  const notFound = /npm (?:error|ERR!) 404 .*'((?:@[^/'\s]+\/)?[^@'\s]+)(?:@([^'\s]*))?'/.exec(output);
  if (notFound) {
    const range = notFound[2] ? ` (${notFound[2]})` : '';
    return `npm install failed: package "${notFound[1]}"${range} was not found in the npm registry`;
  }
  const notFoundUrl = /npm (?:error|ERR!) 404 Not Found - GET (\S+)/.exec(output);
  if (notFoundUrl) {
    const name = decodeURIComponent(notFoundUrl[1].replace(/^[a-z]+:\/\/[^/]+\//, '').split('/-/')[0]);
    return `npm install failed: package "${name}" was not found in the npm registry`;
  }
  const noVersion = /No matching version found for ((?:@[^/\s]+\/)?[^@\s]+)@(\S+?)\.?(?:\s|$)/.exec(output);
  if (noVersion) return `npm install failed: no version of package "${noVersion[1]}" matches "${noVersion[2]}"`;
  const line = firstMatchingLine(output, [/^npm (error|ERR!) (?!code\b)(?!A complete log)/]);
  return `npm install failed: ${line?.replace(/^npm (error|ERR!)\s*/, '') ?? 'npm exited with an error (see the build log)'}`;
}

const SKIP_DIRS = new Set(['node_modules', '.hks', '.git']);

function listJavaScript(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const item of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const relPath = rel ? `${rel}/${item.name}` : item.name;
    if (item.isDirectory()) {
      if (!SKIP_DIRS.has(item.name)) out.push(...listJavaScript(dir, relPath));
    } else if (/\.(c|m)?js$/.test(item.name)) {
      out.push(relPath);
    }
  }
  return out.sort();
}

/*
 * What `node --check` does, for every file in one process: CommonJS is compiled (never run) in its module wrapper,
 * ES modules (.mjs, or "type": "module") are left to `node --check`. Each error is printed as file:line: SyntaxError.
 */
const CHECK_SCRIPT = `
const fs = require('fs'), path = require('path'), vm = require('vm'), Module = require('module'), cp = require('child_process');
const typeOf = (file) => {
  for (let d = path.dirname(path.resolve(file)); ; d = path.dirname(d)) {
    try { return JSON.parse(fs.readFileSync(path.join(d, 'package.json'), 'utf8')).type === 'module' ? 'module' : 'commonjs'; } catch {}
    if (d === path.dirname(d) || d === process.cwd()) return 'commonjs';
  }
};
let failed = false;
for (const file of process.argv.slice(1)) {
  const esm = file.endsWith('.mjs') || (file.endsWith('.js') && typeOf(file) === 'module');
  if (esm) {
    const r = cp.spawnSync(process.execPath, ['--check', file], { encoding: 'utf8' });
    if (r.status !== 0) { failed = true; process.stdout.write(r.stderr); }
    continue;
  }
  try {
    new vm.Script(Module.wrap(fs.readFileSync(file, 'utf8')), { filename: file });
  } catch (e) {
    failed = true;
    const where = String(e.stack || '').split('\\n')[0];
    const line = /:(\\d+)$/.exec(where);
    console.log(\`\${file}:\${line ? line[1] : 0}: \${e.name}: \${e.message}\`);
  }
}
process.exit(failed ? 1 : 0);
`;

/** Fails the build on a JavaScript syntax error, naming the file and line (a broken save must not replace a working version). */
export async function checkJavaScriptSyntax(dir: string, log: BuildLogSink, o: { node?: string; timeoutMs?: number } = {}): Promise<number> {
  const files = listJavaScript(dir);
  if (!files.length) return 0;
  const node = o.node ?? process.execPath;
  const result = await runCommand(node, ['-e', CHECK_SCRIPT, ...files], {
    cwd: dir,
    log,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    display: `${node} (syntax check of ${files.length} file(s))`,
    timeoutMs: o.timeoutMs,
  });
  if (result.code !== 0) {
    const line = firstMatchingLine(result.output, [/^\S.*:\d+: \w*Error: /, /SyntaxError/, /Error/]);
    throw new BuildFailure(line ?? `node could not compile the sources (exit ${result.code})`);
  }
  return files.length;
}
