import type { FunctionPage, FunctionView, Trigger } from '@platform/contracts';
import { concurrencyOf, CONFIG_DEFAULTS } from '@platform/contracts';
import { matchRuntime } from '@platform/runtimes/names';
import { Command, Option } from 'commander';
import { ApiError, CliError } from '../errors';
import { formatDurationMs } from '../manifest/units';
import { fields, json, localTime, table } from '../output/format';
import { CommandContext } from './context';

const output = () => new Option('-o, --output <format>', 'table or json').choices(['table', 'json']);

export function describeTrigger(t: Trigger): string {
  switch (t.type) {
    case 'http':
      return `http${t.methods?.length ? ` ${t.methods.join(',')}` : ''}${t.path ? ` ${t.path}` : ''}${t.auth === 'api-key' || t.auth === 'required' ? ' (api key)' : ''}`;
    case 'schedule':
      return `schedule "${t.cron}"${t.timezone ? ` ${t.timezone}` : ''}`;
    case 'queue':
      return `queue ${t.source}${t.batchSize ? ` batch ${t.batchSize}` : ''}`;
    case 'event':
      return `event ${t.eventType}`;
    default:
      return JSON.stringify(t);
  }
}

export function listCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('list')
    .alias('ls')
    .summary('list the functions')
    .addOption(output())
    .action(async (_opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const items = await allFunctions(ctx);
      if (ctx.format === 'json') return ctx.out(json(items));
      if (!items.length) return ctx.note('no functions yet; hks function deploy NAME creates one');
      ctx.out(
        table(
          ['NAME', 'RUNTIME', 'STATUS', 'VERSION', 'TRIGGERS', 'UPDATED'],
          items.map((f) => [f.label, f.runtime, f.status, f.version, (f.config?.triggers ?? []).map((t) => t.type).join(',') || '-', localTime(f.updatedAt)]),
        ),
      );
    });
}

/** Every function, page by page (the API gives at most 500 at a time). */
async function allFunctions(ctx: CommandContext): Promise<FunctionView[]> {
  const all: FunctionView[] = [];
  for (;;) {
    const page = await ctx.client.call<FunctionPage>('GET', '/api/v1/functions', { query: { limit: 500, offset: all.length } });
    all.push(...page.items);
    if (!page.items.length || all.length >= page.total) return all;
  }
}

export function describeCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('describe')
    .summary("show a function's settings, status and URL")
    .argument('<name>', 'function name or id')
    .addOption(output())
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const f = await ctx.getFunction(name);
      if (ctx.format === 'json') return ctx.out(json(f));
      const c = f.config ?? {};
      const env = Object.entries(c.env ?? {});
      ctx.out(
        fields([
          ['Name', f.label],
          ['ID', f.id],
          ['Description', f.description],
          [
            'Runtime',
            `${f.runtime} (template ${f.template})${f.resolvedRuntime?.version ? `, runs on ${f.resolvedRuntime.language} ${f.resolvedRuntime.version}` : ''}`,
          ],
          ...(f.warnings?.length ? [['Warnings', f.warnings.join('; ')] as [string, string]] : []),
          ['Handler', f.entrypoint ?? f.handler],
          ['Status', f.statusReason ? `${f.status}: ${f.statusReason}` : f.status],
          ['Version', f.version],
          [
            'Build',
            f.build ? `${f.build.status}${f.build.bundleDigest ? ` ${f.build.bundleDigest}` : ''}${f.build.error ? `: ${f.build.error}` : ''}` : 'never built',
          ],
          ['Files', f.files ? Object.keys(f.files).sort().join(', ') : undefined],
          ['Triggers', (c.triggers ?? []).map(describeTrigger).join('; ') || 'none'],
          ['Memory', c.resources?.memoryMb ? `${c.resources.memoryMb}Mi` : 'default'],
          ['Timeout', c.resources?.timeoutMs ? formatDurationMs(c.resources.timeoutMs) : 'default'],
          ['Scaling', describeScaling(f)],
          ['Environment', env.length ? env.map(([k, v]) => `${k}=${v}`).join(' ') : undefined],
          ['Secrets', c.secrets?.length ? c.secrets.map((s) => `${s.env}<-${s.secret}${s.key ? `/${s.key}` : ''}`).join(' ') : undefined],
          ['URL', ctx.functionUrl(f.label)],
          ['Created', localTime(f.createdAt)],
          ['Updated', localTime(f.updatedAt)],
        ]),
      );
    });
}

/** The scaling a function set, and the concurrency its runtime gives it when it set none. */
function describeScaling(f: FunctionView): string {
  const set = Object.entries(f.config?.scaling ?? {}).map(([k, v]) => `${k}=${v}`);
  const runtime = matchRuntime(f.runtime)?.descriptor;
  const family = runtime?.name;
  if (f.config?.scaling?.concurrency === undefined && runtime) {
    const c = concurrencyOf(runtime.concurrency, undefined, f.config?.resources?.memoryMb ?? CONFIG_DEFAULTS.memoryMb);
    set.push(`concurrency=${c.concurrency}${c.asyncConcurrency ? ` (${c.asyncConcurrency} for an async def handler)` : ''} (${family} default)`);
  }
  return set.join(' ') || 'default';
}

export function deleteCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('delete')
    .alias('rm')
    .summary('stop a function and delete it')
    .argument('<name>', 'function name or id')
    .option('-y, --yes', 'do not ask for confirmation (it is never asked when not at a terminal)')
    .addOption(output())
    .action(async (name: string, opts: { yes?: boolean }, cmd: Command) => {
      const ctx = context(cmd);
      const f = await ctx.getFunction(name);
      if (!opts.yes && ctx.io.interactive) {
        const ok = await ctx.io.confirm(`Delete function ${f.label} (${f.status.toLowerCase()}, version ${f.version})?`);
        if (!ok) throw new CliError('not deleted');
      }
      if (f.status === 'READY' || f.status === 'DEPLOYING') await undeploy(ctx, f);
      await ctx.client.call('DELETE', `/api/v1/functions/${f.id}`);
      if (ctx.format === 'json') return ctx.out(json({ id: f.id, name: f.label, deleted: true }));
      ctx.out(`deleted ${f.label}\n`);
    });
}

export function undeployCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('undeploy')
    .summary('stop serving a function, keeping it and its builds')
    .argument('<name>', 'function name or id')
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const f = await ctx.getFunction(name);
      await undeploy(ctx, f);
      ctx.out(`undeployed ${f.label}\n`);
    });
}

/** DELETE /functions/deploy/{id}; "not deployed" is not an error when the goal is that it no longer runs. */
async function undeploy(ctx: CommandContext, f: FunctionView): Promise<void> {
  try {
    await ctx.client.call('DELETE', `/api/v1/functions/deploy/${f.id}`);
  } catch (err) {
    if (!(err instanceof ApiError && (err.status === 404 || err.status === 409))) throw err;
  }
}
