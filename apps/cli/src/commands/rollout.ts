import type { BuildView, FunctionView } from '@platform/contracts';
import { CliError } from '../errors';
import { apiError } from '../http/gateway-client';
import { CommandContext } from './context';

const BUILD_DONE = ['BUILT', 'DEPLOYING', 'READY', 'FAILED'];
const LOG_TAIL_LINES = 40;

/**
 * Builds and deploys a function, printing each status change, and resolves with the READY view. A failed build
 * prints the end of its log; a failed deploy prints why.
 */
export class Rollout {
  private lastShown = '';

  constructor(
    private readonly ctx: CommandContext,
    private readonly timeoutMs: number,
    /** Between two looks at the status (default: the IO's, 500 ms); `hks function dev` looks every few ms. */
    private readonly pollMs?: number,
    /** Whether each step on the way is printed (`dev` prints only the outcome). */
    private readonly verbose = true,
  ) {}

  async run(fn: FunctionView): Promise<FunctionView> {
    const built = await this.build(fn);
    return this.deploy(built);
  }

  async build(fn: FunctionView): Promise<FunctionView> {
    const answer = await this.ctx.client.call<unknown>('POST', `/api/v1/functions/build/${fn.id}`);
    const buildId = idOfBuild(answer);
    this.show(`building ${fn.label} (version ${fn.version})`);
    const view = await this.poll(
      fn.id,
      'build',
      (v) => BUILD_DONE.includes(v.status) && (!buildId || v.build?.id === buildId),
      (v) => {
        const b = v.build;
        return b && (!buildId || b.id === buildId) ? `build ${b.status.toLowerCase()}` : `status ${v.status}`;
      },
    );
    if (view.status === 'FAILED' || view.build?.status === 'FAILED') {
      await this.printBuildLog(view, buildId ?? view.build?.id);
      throw new CliError(`build of ${fn.label} failed: ${view.statusReason ?? view.build?.error ?? 'see the log above'}`);
    }
    const digest = view.build?.bundleDigest;
    this.show(`built ${digest ? digest.slice(0, 19) : ''}${(view.build as { cached?: boolean } | null)?.cached ? ' (cached)' : ''}`.trimEnd());
    return view;
  }

  async deploy(fn: FunctionView): Promise<FunctionView> {
    const answer = await this.ctx.client.send('POST', `/api/v1/functions/deploy/${fn.id}`);
    if (answer.status >= 300) throw apiError(answer);
    this.show(`deploying ${fn.label}`);
    const view = await this.poll(
      fn.id,
      'deploy',
      (v) => v.status === 'READY' || v.status === 'FAILED',
      (v) => `status ${v.status}`,
    );
    if (view.status === 'FAILED') throw new CliError(`deploy of ${fn.label} failed: ${view.statusReason ?? 'no reason given'}`);
    return view;
  }

  private async poll(id: string, what: string, done: (v: FunctionView) => boolean, describe: (v: FunctionView) => string): Promise<FunctionView> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const view = await this.ctx.client.call<FunctionView>('GET', `/api/v1/functions/${id}`);
      // The final state is reported by the caller (built ..., ready ...): only the steps on the way are shown here.
      if (done(view)) return view;
      this.show(describe(view));
      if (this.ctx.io.signal?.aborted) throw new CliError(`stopped waiting; the ${what} goes on (hks function describe ${view.label})`);
      if (Date.now() > deadline) {
        throw new CliError(
          `the ${what} did not finish within ${Math.round(this.timeoutMs / 1000)} s (still ${view.status}); hks function describe ${view.label} shows where it is`,
        );
      }
      await this.ctx.sleep(this.pollMs);
    }
  }

  private show(line: string): void {
    if (!this.verbose || line === this.lastShown) return;
    this.lastShown = line;
    this.ctx.note(line);
  }

  private async printBuildLog(view: FunctionView, buildId: string | undefined): Promise<void> {
    if (!buildId) return;
    try {
      const build = await this.ctx.client.call<BuildView>('GET', `/api/v1/functions/${view.id}/builds/${buildId}`);
      const lines = (build.log ?? '')
        .trimEnd()
        .split('\n')
        .filter((l) => l.trim());
      if (!lines.length) return;
      const tail = lines.slice(-LOG_TAIL_LINES);
      this.ctx.note(`build log${lines.length > tail.length ? ` (last ${tail.length} of ${lines.length} lines)` : ''}:`);
      this.ctx.note(tail.map((l) => `  | ${l}`).join('\n'));
    } catch (err) {
      this.ctx.note(`(the build log could not be read: ${(err as Error).message})`);
    }
  }
}

/** The build id in POST /functions/build's answer, whichever shape it has ({id}, {buildId}, {build: {id}}). */
export function idOfBuild(answer: unknown): string | undefined {
  if (!answer || typeof answer !== 'object') return undefined;
  const a = answer as { id?: unknown; buildId?: unknown; build?: { id?: unknown }; label?: unknown; status?: unknown };
  if (typeof a.buildId === 'string') return a.buildId;
  // A function view names its latest build; it is this request's build only once the view says BUILDING.
  if (a.build && typeof a.build.id === 'string' && (a.label === undefined || a.status === 'BUILDING')) return a.build.id;
  // A FunctionView also has an id, but that is the function's; only a bare build has {id, status} without a label.
  if (typeof a.id === 'string' && a.label === undefined && 'status' in a) return a.id;
  return undefined;
}
