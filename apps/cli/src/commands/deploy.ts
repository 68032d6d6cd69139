import type { FunctionView } from '@platform/contracts';
import { Command, Option } from 'commander';
import { existsSync } from 'fs';
import * as path from 'path';
import { ApiError, UsageError } from '../errors';
import { loadFunctionYaml, MANIFEST_FILE } from '../manifest/function-yaml';
import { parseDurationMs } from '../manifest/units';
import { fields, json } from '../output/format';
import { collectFiles } from '../source/collect';
import { checkoutGitSource } from '../source/git';
import { CommandContext } from './context';
import { buildFunctionRequest, DeployFlags, FunctionRequest } from './deploy-spec';
import { Rollout } from './rollout';

interface DeployOptions extends DeployFlags {
  dir?: string;
  file?: string;
  gitUrl?: string;
  gitPath?: string;
  gitRef?: string;
  waitTimeout: string;
  force?: boolean;
}

export function deployCommand(context: (cmd: Command) => CommandContext): Command {
  const collect = (v: string, acc: string[] = []) => [...acc, v];
  return new Command('deploy')
    .summary('deploy the function in the current directory (or a Git repository)')
    .description(
      "Uploads the function's files (all but .git, node_modules, __pycache__, .venv and the patterns in .hksignore), " +
        'creates or updates the function, builds it, deploys it and waits until it is READY, then prints its URL. ' +
        `Settings come from ${MANIFEST_FILE} when there is one; flags override it.`,
    )
    .argument('[name]', `function name (default: name in ${MANIFEST_FILE})`)
    .option('--runtime <runtime>', 'python3.11, python3.9, nodejs20, node, ...')
    .option('--handler <module.function>', 'entry point, e.g. function.handle (default: the function of handler, function, main, index or app)')
    .option('--description <text>', 'what the function does')
    .option('--template <template>', 'build template: typescript, node, javascript or python (default: from the runtime and files)')
    .option('--trigger <kind>', "http, cron, queue or event; repeat for several; replaces the file's triggers of that kind", collect)
    .option('--schedule <cron>', 'cron expression of a cron trigger, e.g. "0 * * * *"')
    .option('--timezone <tz>', 'time zone of the schedule, e.g. Europe/Paris (default UTC)')
    .option('--queue <name>', 'queue a queue trigger consumes')
    .option('--event-type <type>', 'event type an event trigger reacts to, e.g. ORDER_PLACED or com.shop.order.placed')
    .option('--memory <size>', 'memory limit, e.g. 256Mi or 1Gi')
    .option('--timeout <duration>', 'time limit of one invocation, e.g. 30s')
    .option('--env <NAME=value>', 'environment variable; repeat for several', collect)
    .option('--min-instances <n>', 'instances kept warm')
    .option('--max-instances <n>', 'most instances at once')
    .option('--concurrency <n>', 'requests one instance serves at once')
    .option('--dir <path>', 'directory of the function (default: the current directory)')
    .option('-f, --file <path>', `settings file, relative to the function's directory (default: ${MANIFEST_FILE})`)
    .option('--git-url <url>', 'deploy from this Git repository instead of a local directory')
    .option('--git-path <dir>', 'directory of the function inside the repository')
    .option('--git-ref <ref>', 'branch, tag or commit to deploy (default: the default branch)')
    .option('--force', 'build and deploy again even when nothing changed')
    .option('--wait-timeout <duration>', 'how long to wait for the build and the deploy', '15m')
    .addOption(new Option('-o, --output <format>', 'table or json').choices(['table', 'json']))
    .action(async (name: string | undefined, opts: DeployOptions, cmd: Command) => {
      const ctx = context(cmd);
      const waitMs = parseDurationMs(opts.waitTimeout);
      if (waitMs === undefined || waitMs <= 0) throw new UsageError(`--wait-timeout ${opts.waitTimeout} is not a duration, e.g. 10m`);
      if (opts.gitUrl && opts.dir) throw new UsageError('--dir and --git-url exclude each other: the function comes from one place');
      if (!opts.gitUrl && (opts.gitPath || opts.gitRef)) throw new UsageError('--git-path and --git-ref go with --git-url');

      const source = opts.gitUrl
        ? await checkoutGitSource({ url: resolveGitUrl(opts.gitUrl, ctx.io.cwd), subdir: opts.gitPath, ref: opts.gitRef })
        : { dir: path.resolve(ctx.io.cwd, opts.dir ?? '.'), cleanup: () => undefined };
      let request: FunctionRequest;
      try {
        if (opts.file && !existsSync(path.resolve(source.dir, opts.file))) throw new UsageError(`${opts.file} does not exist in ${source.dir}`);
        const manifest = loadFunctionYaml(source.dir, ctx.io.env, opts.file ?? MANIFEST_FILE);
        request = buildFunctionRequest(name, manifest, opts, collectFiles(source.dir));
      } finally {
        source.cleanup();
      }
      const { fn, changed } = await upsert(ctx, request);
      // The platform says when the version asked for is not installed and which one runs the function instead.
      for (const warning of fn.warnings ?? []) ctx.note(`warning: ${warning}`);
      // Deploying the same thing again only does what is left to do, unless --force asks for a fresh build.
      const rollout = new Rollout(ctx, waitMs);
      let ready: FunctionView;
      if (!changed && !opts.force && fn.status === 'READY') {
        ctx.note(`no changes since version ${fn.version}`);
        ready = fn;
      } else if (!changed && !opts.force && fn.status === 'BUILT') {
        ready = await rollout.deploy(fn);
      } else {
        ready = await rollout.run(fn);
      }
      // A function with triggers but no http trigger has no URL on /fn/ (the gateway answers 404 there).
      const urls = ctx.functionUrls(ready);
      const invokeUrl = ctx.invokeUrl(ready.label);
      if (ctx.format === 'json') {
        ctx.out(
          json({
            id: ready.id,
            name: ready.label,
            version: ready.version,
            status: ready.status,
            url: urls[0] ?? null,
            urls,
            invokeUrl,
            bundleDigest: ready.build?.bundleDigest ?? null,
          }),
        );
        return;
      }
      ctx.out(`${ready.label} is ready (version ${ready.version})\n`);
      ctx.out(
        fields([
          ['URL', urls.length ? urls.join(' ') : undefined],
          ['Invoke API', urls.length ? undefined : `POST ${invokeUrl}`],
          ['Invoke', `hks function invoke ${ready.label} --data '{...}'`],
        ]),
      );
    });
}

/** A local path (relative to where hks runs) works as well as a URL; git wants it absolute. */
function resolveGitUrl(url: string, cwd: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url) || /^[^/]+@[^:]+:/.test(url)) return url;
  return path.resolve(cwd, url);
}

/** Creates the function, or updates it when one with this name exists; `changed` = a new version to build. */
export async function upsert(
  ctx: CommandContext,
  request: FunctionRequest,
  o: { quiet?: boolean; known?: FunctionView } = {},
): Promise<{ fn: FunctionView; changed: boolean }> {
  // `known`: the caller just deployed it (dev), so the look-up is a round trip it can skip.
  let existing = o.known?.label === request.label ? o.known : undefined;
  const quiet = o.quiet ?? false;
  try {
    existing ??= await ctx.client.call<FunctionView>('GET', `/api/v1/functions/${encodeURIComponent(request.label)}`);
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 404)) throw err;
  }
  const files = Object.keys(request.files).length;
  const what = `${request.label} (${files} file${files === 1 ? '' : 's'})`;
  if (existing) {
    if (!quiet) ctx.note(`updating ${what}`);
    const fn = await ctx.client.call<FunctionView>('PUT', `/api/v1/functions/${existing.id}`, { body: request });
    return { fn, changed: fn.version !== existing.version };
  }
  if (!quiet) ctx.note(`creating ${what}`);
  return { fn: await ctx.client.call<FunctionView>('POST', '/api/v1/functions', { body: request }), changed: true };
}
