import type { FunctionView, PlatformEvent } from '@platform/contracts';
import { Command } from 'commander';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { CliError, UsageError } from '../errors';
import { loadFunctionYaml, MANIFEST_FILE } from '../manifest/function-yaml';
import { parseDurationMs } from '../manifest/units';
import { collectFiles } from '../source/collect';
import { IGNORE_FILE, IgnoreRules } from '../source/ignore';
import { SerialRunner, SourceWatcher } from '../source/watch';
import { CommandContext } from './context';
import { upsert } from './deploy';
import { buildFunctionRequest, DeployFlags, FunctionRequest } from './deploy-spec';
import { follow, formatLogEvent, isLogEvent } from './logs';
import { Rollout } from './rollout';

interface DevOptions extends Pick<DeployFlags, 'runtime' | 'handler' | 'template' | 'env'> {
  name?: string;
  file?: string;
  debounce: string;
  logs: boolean;
  waitTimeout: string;
}

/** How often `dev` looks at a build's or deployment's status: a reload is a few hundred ms, 500 ms polls would double it. */
const DEV_POLL_MS = 25;

export function devCommand(context: (cmd: Command) => CommandContext): Command {
  const collect = (v: string, acc: string[] = []) => [...acc, v];
  return new Command('dev')
    .summary('run a function from a directory on the platform and redeploy it on every save')
    .description(
      `Creates or updates the function of a directory (its ${MANIFEST_FILE}; flags override it), builds and deploys it, then ` +
        'watches the directory and on every save uploads the new code and deploys it again, printing "serving vN in X ms". ' +
        "The function's logs are printed as it runs. A save that does not build prints the build error and the previous " +
        'version keeps serving. Changes under node_modules, .git and dotfiles are ignored, as are the patterns of .hksignore. ' +
        'Ctrl-C stops watching (the function stays deployed).',
    )
    .argument('[dir]', 'directory of the function (default: the current directory)')
    .option('--name <name>', `function name (default: name in ${MANIFEST_FILE})`)
    .option('--runtime <runtime>', 'python3.11, nodejs20, ... (default: runtime in function.yaml)')
    .option('--handler <module.function>', 'entry point, e.g. function.handle')
    .option('--template <template>', 'build template: typescript, node, javascript or python')
    .option('--env <NAME=value>', 'environment variable; repeat for several', collect)
    .option('-f, --file <path>', `settings file, relative to the directory (default: ${MANIFEST_FILE})`)
    .option('--debounce <duration>', 'how long the directory must stay quiet after a save before deploying', '100ms')
    .option('--no-logs', "do not print the function's logs")
    .option('--wait-timeout <duration>', 'how long one build and deploy may take', '5m')
    .action(async (dirArg: string | undefined, opts: DevOptions, cmd: Command) => {
      const ctx = context(cmd);
      const waitMs = parseDurationMs(opts.waitTimeout);
      if (waitMs === undefined || waitMs <= 0) throw new UsageError(`--wait-timeout ${opts.waitTimeout} is not a duration, e.g. 5m`);
      const debounceMs = parseDurationMs(opts.debounce);
      if (debounceMs === undefined || debounceMs < 0 || debounceMs > 60_000)
        throw new UsageError(`--debounce ${opts.debounce} is not a duration up to 1m, e.g. 100ms`);
      const dir = path.resolve(ctx.io.cwd, dirArg ?? '.');
      if (!existsSync(dir)) throw new UsageError(`${dir} does not exist`);
      if (opts.file && !existsSync(path.resolve(dir, opts.file))) throw new UsageError(`${opts.file} does not exist in ${dir}`);
      await new DevSession(ctx, dir, opts, waitMs, debounceMs).run();
    });
}

/** One `hks function dev`: the first deploy, then the watcher, the redeploys and the log stream until Ctrl-C. */
class DevSession {
  /** The version serving, once one built and deployed. */
  private serving?: FunctionView;
  /** The function as last uploaded (it exists from the first upload on, built or not). */
  private fn?: FunctionView;

  constructor(
    private readonly ctx: CommandContext,
    private readonly dir: string,
    private readonly opts: DevOptions,
    private readonly waitMs: number,
    private readonly debounceMs: number,
  ) {}

  async run(): Promise<void> {
    const signal = this.ctx.io.signal;
    // A directory that is not a function (no name, no runtime) or a platform that says no ends here; code that does
    // not build yet is reported, and the next save that builds serves.
    await this.deploy(Date.now(), true);
    const fn = this.fn!;
    const urls = this.ctx.functionUrls(fn);
    this.ctx.note(`${urls.length ? `URL: ${urls.join(' ')}` : `Invoke: POST ${this.ctx.invokeUrl(fn.label)}`}`);
    this.ctx.note(`watching ${this.dir} for changes (Ctrl-C stops)`);

    const logs = this.opts.logs ? this.streamLogs(fn) : Promise.resolve();
    const runner = new SerialRunner<number>(
      async (savedAt) => {
        await this.deploy(savedAt, false);
      },
      (err) => {
        // Ctrl-C during a deploy stops waiting for it: not an error worth a line.
        if (!signal?.aborted) this.ctx.note(`error: ${(err as Error).message}`);
      },
      // Saves that came while a deploy ran: one more deploy, timed from the earliest of them.
      (older, newer) => Math.min(older, newer),
    );
    const rules = readIgnoreRules(this.dir);
    const watcher = new SourceWatcher(this.dir, ({ savedAt }) => runner.push(savedAt), {
      debounceMs: this.debounceMs,
      ignores: (rel) => rules.ignores(rel, false),
    });
    watcher.start();
    try {
      await new Promise<void>((resolve) => {
        if (!signal) return; // in-process without a signal: runs until the process ends
        if (signal.aborted) resolve();
        signal.addEventListener('abort', () => resolve(), { once: true });
      });
    } finally {
      watcher.close();
      await runner.idle();
      await logs;
    }
    this.ctx.note(
      this.serving ? `stopped watching; ${this.serving.label} version ${this.serving.version} stays deployed` : `stopped watching; ${fn.label} never built`,
    );
  }

  /**
   * Uploads the directory's code and, when it changed, builds and deploys it; the view serving after that, or
   * undefined when the code did not build or deploy (the error is printed and the previous version serves on).
   */
  private async deploy(savedAt: number, first: boolean): Promise<FunctionView | undefined> {
    let request: FunctionRequest;
    try {
      const manifest = loadFunctionYaml(this.dir, this.ctx.io.env, this.opts.file ?? MANIFEST_FILE);
      request = buildFunctionRequest(this.opts.name, manifest, this.opts, collectFiles(this.dir));
    } catch (err) {
      if (first || !(err instanceof CliError)) throw err;
      this.ctx.note(`error: ${err.message}`);
      this.ctx.note(this.serving ? `still serving version ${this.serving.version}` : 'nothing serves yet: the next save that builds will');
      return undefined;
    }
    const { fn, changed } = await upsert(this.ctx, request, { quiet: !first, known: this.serving });
    this.fn = fn;
    const rollout = new Rollout(this.ctx, this.waitMs, DEV_POLL_MS, false);
    let ready: FunctionView;
    try {
      if (!changed && fn.status === 'READY') {
        if (!first) return this.serving; // a save that changed nothing the platform sees (a touch, an ignored file)
        ready = fn;
      } else if (!changed && fn.status === 'BUILT') {
        ready = await rollout.deploy(fn);
      } else {
        ready = await rollout.run(fn);
      }
    } catch (err) {
      if (!(err instanceof CliError) || this.ctx.io.signal?.aborted) throw err;
      this.ctx.note(`error: ${err.message}`);
      this.ctx.note(this.serving ? `still serving version ${this.serving.version}` : 'nothing serves yet: the next save that builds will');
      return undefined;
    }
    this.serving = ready;
    this.ctx.note(`serving ${ready.label} v${ready.version} in ${Date.now() - savedAt} ms`);
    return ready;
  }

  /** What `hks function logs --follow` prints, from now on, until Ctrl-C. */
  private async streamLogs(fn: FunctionView): Promise<void> {
    const seen = new Set<string>();
    const print = (events: PlatformEvent[]) => {
      for (const e of events) {
        if (seen.has(e.id) || !isLogEvent(e, false)) continue;
        seen.add(e.id);
        this.ctx.out(formatLogEvent(e));
      }
    };
    try {
      await follow(this.ctx, fn, new Date().toISOString(), print, false);
    } catch (err) {
      this.ctx.note(`logs: ${(err as Error).message}; the function is still watched and deployed`);
    }
  }
}

function readIgnoreRules(dir: string): IgnoreRules {
  const file = path.join(dir, IGNORE_FILE);
  return new IgnoreRules(existsSync(file) ? IgnoreRules.parse(readFileSync(file, 'utf8')) : []);
}
