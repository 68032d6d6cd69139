import { randomBytes } from 'crypto';
import { INTERNAL_TOKEN_HEADER } from '@platform/contracts';
import { ChildProcess, spawn } from 'child_process';
import * as path from 'path';
import { freePort, waitFor } from '@platform/testing';

const MAIN = path.resolve(__dirname, '../../../../dist/apps/invoker/src/main.js');

/**
 * The built invoker (dist/, as tools/platform.js starts it) as a child process, for tests that kill it:
 * `npm run build` first. Its output is kept for the failure message.
 */
export class InvokerProcess {
  output = '';
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  private constructor(
    readonly url: string,
    private readonly child: ChildProcess,
    /** The internal credential, which every call but health must present. */
    readonly auth: Record<string, string>,
  ) {
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  static async start(env: Record<string, string>, port?: number): Promise<InvokerProcess> {
    const p = port ?? (await freePort());
    const token = env.HKS_INTERNAL_TOKEN || randomBytes(32).toString('hex');
    const child = spawn(process.execPath, [MAIN], {
      env: {
        PATH: process.env.PATH ?? '/usr/bin:/bin',
        HOME: process.env.HOME ?? '/tmp',
        ...env,
        HKS_INTERNAL_TOKEN: token,
        INVOKER_PORT: String(p),
        LOG_LEVEL: env.LOG_LEVEL ?? 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new InvokerProcess(`http://127.0.0.1:${p}`, child, { [INTERNAL_TOKEN_HEADER]: token });
    let gone = false;
    void proc.exited.then(() => (gone = true));
    await waitFor(
      async () => {
        if (gone) throw new Error(`the invoker exited while starting:\n${proc.output}`);
        try {
          return (await fetch(`${proc.url}/readyz`)).status === 200;
        } catch {
          return false;
        }
      },
      { timeoutMs: 30_000, intervalMs: 100, what: 'the invoker process to be ready' },
    );
    return proc;
  }

  get pid(): number {
    return this.child.pid!;
  }

  async kill(signal: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}
