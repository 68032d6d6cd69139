import { spawn } from 'child_process';
import { BuildLogSink } from './errors';

export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** Everything the command printed (stdout and stderr interleaved), for finding the error line. */
  output: string;
}

export interface CommandOptions {
  cwd: string;
  /** The step's whole environment; `buildStepEnv()` by default (never the builder's own). */
  env?: NodeJS.ProcessEnv;
  log: BuildLogSink;
  /** Killed (SIGKILL) after this long; a hung install must not hold a build slot for ever. */
  timeoutMs?: number;
  /** What the log shows as the command line, when the real one is unreadable (inline scripts). */
  display?: string;
}

const MAX_KEPT_OUTPUT = 1024 * 1024;

/** What a build step inherits of the builder's environment, by name. */
const BUILD_STEP_VARIABLES = new Set([
  'PATH',
  'HOME',
  'TMPDIR',
  'TMP',
  'TEMP',
  'LANG',
  'LC_ALL',
  'LC_CTYPE',
  'TZ',
  // Proxies and certificate authorities: how the step reaches the package registries.
  'HTTP_PROXY',
  'HTTPS_PROXY',
  'NO_PROXY',
  'http_proxy',
  'https_proxy',
  'no_proxy',
  'SSL_CERT_FILE',
  'SSL_CERT_DIR',
  'NODE_EXTRA_CA_CERTS',
  'REQUESTS_CA_BUNDLE',
  // pip's registry settings (the builder's own HKS_PIP_INDEX_URL is passed as --index-url).
  'PIP_INDEX_URL',
  'PIP_EXTRA_INDEX_URL',
  'PIP_TRUSTED_HOST',
  'PIP_CERT',
  'PIP_CONFIG_FILE',
]);
/** npm reads its configuration (registry, cache, proxy, a private registry's token) from npm_config_*. */
const BUILD_STEP_PREFIXES = ['npm_config_', 'NPM_CONFIG_'];

/**
 * The environment of a build step (npm install, pip install, a compiler): an allow-list of the builder's own
 * (path, home, temporary directory, locale, proxies and CAs, the package registries' settings) plus `extra`. The
 * builder's environment holds the platform's credentials (DATABASE_URL, AMQP_URL, REDIS_URL, HKS_INTERNAL_TOKEN,
 * HKS_OCI_PASSWORD...), and a build step runs code that the function's author chose (a package's install script,
 * setup.py): none of them reaches it.
 */
export function buildStepEnv(extra: NodeJS.ProcessEnv = {}, from: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(from)) {
    if (value !== undefined && (BUILD_STEP_VARIABLES.has(name) || BUILD_STEP_PREFIXES.some((p) => name.startsWith(p)))) env[name] = value;
  }
  return { ...env, ...extra };
}

/** Runs a build step, streaming its output to the log as it comes. Never rejects for a non-zero exit. */
export function runCommand(command: string, args: string[], o: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    o.log(`$ ${o.display ?? [command, ...args].join(' ')}\n`);
    const child = spawn(command, args, { cwd: o.cwd, env: o.env ?? buildStepEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      if (output.length < MAX_KEPT_OUTPUT) output += text;
      o.log(text);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    let timedOut = false;
    const timer = o.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, o.timeoutMs)
      : undefined;
    child.on('error', (err) => {
      if (timer) clearTimeout(timer);
      reject(new Error(`could not run ${command}: ${err.message}`));
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      if (timedOut) output += `\n${command} did not finish within ${o.timeoutMs} ms and was stopped\n`;
      resolve({ code, signal, output });
    });
  });
}

/** The first line of a command's output that says what went wrong, for the build's error. */
export function firstMatchingLine(output: string, patterns: RegExp[]): string | undefined {
  const lines = output
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter(Boolean);
  for (const pattern of patterns) {
    const line = lines.find((l) => pattern.test(l));
    if (line) return line;
  }
  return undefined;
}
