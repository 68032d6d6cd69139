import type { EventPage, FunctionView, PlatformEvent } from '@platform/contracts';
import { Command, Option } from 'commander';
import { CliError, UsageError } from '../errors';
import { readSse } from '../http/sse';
import { parseDurationMs, formatDurationMs } from '../manifest/units';
import { localTime } from '../output/format';
import { CommandContext } from './context';

interface LogsOptions {
  follow?: boolean;
  since?: string;
  level: string;
  limit: string;
}

/** --since 1h / 30m / 2d, or an ISO time; undefined = from the start. */
export function sinceToIso(since: string | undefined, now = Date.now()): string | undefined {
  if (since === undefined) return undefined;
  const ms = parseDurationMs(since);
  if (ms !== undefined && !/^\d+(\.\d+)?$/.test(since.trim())) return new Date(now - ms).toISOString();
  const t = Date.parse(since);
  if (!Number.isNaN(t) && /\d{4}-\d{2}-\d{2}/.test(since)) return new Date(t).toISOString();
  throw new UsageError(`--since ${since} is not a duration (1h, 30m, 2d) or a date (2026-01-31T12:00:00Z)`);
}

/** What `logs` shows: invocation results, and with them any failure of the function (build, deploy). */
export function isLogEvent(e: PlatformEvent, errorsOnly: boolean): boolean {
  if (e.status === 'FAILURE') return true;
  return !errorsOnly && e.status === 'SUCCESS' && e.type === 'FUNCTION_INVOCATION';
}

/** One event as a header line and its captured output, indented. */
export function formatLogEvent(e: PlatformEvent): string {
  const meta = (e.metadata ?? {}) as { logs?: unknown; coldStart?: unknown; reason?: unknown; trigger?: unknown; traceId?: unknown };
  const what = e.type === 'FUNCTION_INVOCATION' ? (e.invocationId ?? e.id).slice(0, 8) : e.type.replace(/^FUNCTION_/, '').toLowerCase();
  const parts = [localTime(e.timestamp), what, e.status];
  if (e.processingTimeMs !== null && e.processingTimeMs !== undefined) parts.push(formatDurationMs(e.processingTimeMs));
  if (meta.coldStart === true) parts.push('cold start');
  if (typeof meta.trigger === 'string' && meta.trigger !== 'api') parts.push(`via ${meta.trigger}`);
  if (typeof meta.traceId === 'string') parts.push(`trace ${meta.traceId}`);
  let out = parts.join('  ');
  if (e.error) out += `  error: ${e.error.split('\n')[0]}`;
  out += '\n';
  const logs = typeof meta.logs === 'string' ? meta.logs.replace(/\n+$/, '') : '';
  if (logs)
    out +=
      logs
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n') + '\n';
  return out;
}

export function logsCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('logs')
    .summary("show a function's invocation logs and errors, oldest first")
    .argument('<name>', 'function name or id')
    .option('-f, --follow', 'keep printing new invocations as they happen (Ctrl-C stops)')
    .option('--since <duration>', 'only what happened in the last 1h, 30m, 2d ... (or since a date)')
    .addOption(new Option('--level <level>', 'all, or error for failures only').choices(['all', 'error']).default('all'))
    .option('-n, --limit <n>', 'most entries shown from the past', '100')
    .addOption(new Option('-o, --output <format>', 'table (text) or json (events; one per line with --follow)').choices(['table', 'json']))
    .action(async (name: string, opts: LogsOptions, cmd: Command) => {
      const ctx = context(cmd);
      const limit = Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new UsageError(`--limit ${opts.limit} is not a whole number from 1 to 500`);
      const from = sinceToIso(opts.since);
      const errorsOnly = opts.level === 'error';
      const fn = await ctx.getFunction(name);
      const seen = new Set<string>();
      const print = (events: PlatformEvent[]) => {
        for (const e of events) {
          if (seen.has(e.id) || !isLogEvent(e, errorsOnly)) continue;
          seen.add(e.id);
          ctx.out(ctx.format === 'json' && opts.follow ? JSON.stringify(e) + '\n' : ctx.format === 'json' ? '' : formatLogEvent(e));
        }
      };

      const history = await recentEvents(ctx, fn, { from, limit, errorsOnly });
      if (ctx.format === 'json' && !opts.follow) {
        ctx.out(JSON.stringify(history, null, 2) + '\n');
        return;
      }
      print(history);
      if (!opts.follow) {
        if (!history.length && ctx.format !== 'json')
          ctx.note(`no ${errorsOnly ? 'failures' : 'invocations'} of ${fn.label}${opts.since ? ` in the last ${opts.since}` : ''} yet`);
        return;
      }
      await follow(ctx, fn, history.at(-1)?.timestamp ?? from, print, errorsOnly);
    });
}

/** The last `limit` log events, oldest first: successes and failures are asked for separately, then merged. */
async function recentEvents(ctx: CommandContext, fn: FunctionView, o: { from?: string; limit: number; errorsOnly: boolean }): Promise<PlatformEvent[]> {
  const query = (extra: Record<string, string>) =>
    ctx.client.call<EventPage>('GET', '/api/v3/events', { query: { functionId: fn.id, from: o.from, order: 'desc', limit: o.limit, page: 1, ...extra } });
  const pages = await Promise.all([query({ status: 'FAILURE' }), ...(o.errorsOnly ? [] : [query({ status: 'SUCCESS', type: 'FUNCTION_INVOCATION' })])]);
  return pages
    .flatMap((p) => p.items)
    .sort((a, b) => a.timestamp.localeCompare(b.timestamp) || a.id.localeCompare(b.id))
    .slice(-o.limit);
}

/** Streams new events over SSE until Ctrl-C; after a dropped connection, catches up from the last one shown. */
export async function follow(
  ctx: CommandContext,
  fn: FunctionView,
  since: string | undefined,
  print: (e: PlatformEvent[]) => void,
  errorsOnly: boolean,
): Promise<void> {
  const signal = ctx.io.signal;
  let lastSeen = since;
  let failures = 0;
  // The stream sends CloudEvents; the contracts read them back. Loaded here, not at start: loading them
  // costs most of a second, which only a long-running follow can afford.
  const { fromCloudEvent } = await import('@platform/contracts');
  const onEvent = (data: string) => {
    let e: PlatformEvent;
    try {
      e = fromCloudEvent(JSON.parse(data));
    } catch {
      return; // a keep-alive, a comment or something else that is not an event
    }
    if (e.functionId !== fn.id) return;
    print([e]);
    if (!lastSeen || e.timestamp > lastSeen) lastSeen = e.timestamp;
  };
  while (!signal?.aborted) {
    try {
      const res = await ctx.client.open('/api/v3/events/stream', { query: { functionId: fn.id }, headers: { accept: 'text/event-stream' }, signal });
      if (failures > 0) print(await recentEvents(ctx, fn, { from: lastSeen, limit: 500, errorsOnly }));
      failures = 0;
      await readSse(res.body!, onEvent, signal);
    } catch (err) {
      if (signal?.aborted) break;
      failures += 1;
      if (failures >= 5) throw new CliError(`the event stream keeps failing: ${(err as Error).message}`);
    }
    if (!signal?.aborted) {
      if (failures === 0) failures = 1;
      ctx.note('event stream interrupted; reconnecting');
      await ctx.sleep(1000 * failures);
    }
  }
}
