import { ChildProcess, spawn } from 'child_process';
import { existsSync } from 'fs';
import * as path from 'path';
import { freePort } from './ports';
import { waitFor } from './test-env';

const REPO_ROOT = path.resolve(__dirname, '..', '..', '..');

/**
 * A built service (dist/, started the way tools/platform.js starts it) as a child process, for the tests of one app
 * that need another one for real: an app never imports another app's code, so it talks to it as in production,
 * over RPC and HTTP. `npm run build` first. Its output is kept for the failure message.
 */
export class ServiceProcess {
  output = '';
  private readonly exited: Promise<void>;

  private constructor(
    readonly service: string,
    readonly url: string,
    private readonly child: ChildProcess,
  ) {
    child.stdout?.on('data', (c: Buffer) => (this.output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.output += c.toString()));
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
  }

  /** Starts `service` with `env` on a free port (set through `portEnv`, e.g. REGISTRY_PORT); resolves once it is ready. */
  static async start(service: string, portEnv: string, env: Record<string, string>, readyTimeoutMs = 60_000): Promise<ServiceProcess> {
    const main = path.join(REPO_ROOT, 'dist', 'apps', service, 'src', 'main.js');
    if (!existsSync(main)) throw new Error(`${path.relative(REPO_ROOT, main)} does not exist: run \`npm run build\` before this test`);
    const port = await freePort();
    const child = spawn(process.execPath, [main], {
      cwd: REPO_ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/tmp', ...env, [portEnv]: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const proc = new ServiceProcess(service, `http://127.0.0.1:${port}`, child);
    let gone = false;
    void proc.exited.then(() => (gone = true));
    try {
      await waitFor(
        async () => {
          if (gone) throw new Error(`${service} exited while starting:\n${proc.output}`);
          try {
            return (await fetch(`${proc.url}/readyz`)).status === 200;
          } catch {
            return false;
          }
        },
        { timeoutMs: readyTimeoutMs, intervalMs: 100, what: `${service} to be ready` },
      );
    } catch (err) {
      await proc.stop();
      throw err;
    }
    return proc;
  }

  /**
   * SIGTERM, as Kubernetes stops it; SIGKILL if it has not exited within `graceMs`. Resolves with how it exited
   * (`signal` SIGKILL: it did not drain in time).
   */
  async stop(graceMs = 10_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(timer);
    }
    return { code: this.child.exitCode, signal: this.child.signalCode };
  }
}
