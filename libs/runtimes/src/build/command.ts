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
  env?: NodeJS.ProcessEnv;
  log: BuildLogSink;
  /** Killed (SIGKILL) after this long; a hung install must not hold a build slot for ever. */
  timeoutMs?: number;
  /** What the log shows as the command line, when the real one is unreadable (inline scripts). */
  display?: string;
}

const MAX_KEPT_OUTPUT = 1024 * 1024;

/** Runs a build step, streaming its output to the log as it comes. Never rejects for a non-zero exit. */
export function runCommand(command: string, args: string[], o: CommandOptions): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    o.log(`$ ${o.display ?? [command, ...args].join(' ')}\n`);
    const child = spawn(command, args, { cwd: o.cwd, env: o.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
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
