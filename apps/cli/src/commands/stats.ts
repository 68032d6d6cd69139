import type { InvocationStats } from '@platform/contracts';
import { Command, Option } from 'commander';
import { UsageError } from '../errors';
import { formatDurationMs, parseDurationMs } from '../manifest/units';
import { fields, json, localTime, percent, table } from '../output/format';
import { CommandContext } from './context';
import { sinceToIso } from './logs';

const BUCKETS = [60, 300, 900, 3600, 3 * 3600, 6 * 3600, 86_400, 7 * 86_400];

/** About 24 rows for any period: 1h -> 5 min buckets, 24h -> 1 h, 7d -> 6 h, 30d -> 1 d. */
export function bucketFor(periodMs: number): number {
  const rowsOff = (b: number) => Math.abs(Math.log(periodMs / 1000 / b / 24));
  return BUCKETS.reduce((best, b) => (rowsOff(b) < rowsOff(best) ? b : best));
}

export function formatStats(label: string, s: InvocationStats, period: string): string {
  return fields([
    ['Function', label],
    ['Period', period],
    ['Invocations', s.invocations],
    ['Errors', s.failures],
    ['Error rate', s.invocations ? percent(s.errorRate) : '-'],
    ['Cold starts', s.coldStarts],
    ['Duration p50', formatDurationMs(s.durationMs.p50)],
    ['Duration p95', formatDurationMs(s.durationMs.p95)],
    ['Duration p99', formatDurationMs(s.durationMs.p99)],
    ['Duration max', formatDurationMs(s.durationMs.max)],
  ]);
}

export function formatSeries(series: NonNullable<InvocationStats['series']>): string {
  return table(
    ['START', 'INVOCATIONS', 'ERRORS', 'ERROR RATE', 'P50', 'P95'],
    series.map((b) => [
      localTime(b.start),
      b.invocations,
      b.failures,
      b.invocations ? percent(b.failures / b.invocations) : '-',
      formatDurationMs(b.p50),
      formatDurationMs(b.p95),
    ]),
  );
}

/** Each version's figures side by side (stats --by version), newest version first as the API gives them. */
export function formatVersions(versions: NonNullable<InvocationStats['versions']>): string {
  if (!versions.length) return 'no invocations of any version in this period\n';
  return table(
    ['VERSION', 'INVOCATIONS', 'ERRORS', 'ERROR RATE', 'COLD STARTS', 'P50', 'P95', 'P99'],
    versions.map((v) => [
      v.version,
      v.invocations,
      v.failures,
      v.invocations ? percent(v.errorRate) : '-',
      v.coldStarts,
      formatDurationMs(v.durationMs.p50),
      formatDurationMs(v.durationMs.p95),
      formatDurationMs(v.durationMs.p99),
    ]),
  );
}

async function fetchStats(ctx: CommandContext, name: string, query: Record<string, string | number | undefined>) {
  const fn = await ctx.getFunction(name);
  const stats = await ctx.client.call<InvocationStats>('GET', `/api/v1/functions/${fn.id}/stats`, { query });
  return { fn, stats };
}

const output = () => new Option('-o, --output <format>', 'table or json').choices(['table', 'json']);

export function statsCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('stats')
    .summary('invocations, errors, error rate, duration percentiles and cold starts of a function')
    .argument('<name>', 'function name or id')
    .option('--since <duration>', 'only the last 1h, 24h, 7d ... (default: everything recorded)')
    .addOption(new Option('--by <dimension>', "the same figures for each version, side by side (a split's or a canary's)").choices(['version']))
    .addOption(output())
    .action(async (name: string, opts: { since?: string; by?: 'version' }, cmd: Command) => {
      const ctx = context(cmd);
      const from = sinceToIso(opts.since);
      const { fn, stats } = await fetchStats(ctx, name, { from, by: opts.by });
      if (ctx.format === 'json') {
        ctx.out(json(stats));
        return;
      }
      ctx.out(formatStats(fn.label, stats, opts.since ? `last ${opts.since} (since ${localTime(from)})` : 'all time'));
      if (opts.by === 'version') {
        ctx.out('\n');
        ctx.out(formatVersions(stats.versions ?? []));
      }
    });
}

export function metricsCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('metrics')
    .summary('the same figures as stats over a period, with a time series')
    .argument('<name>', 'function name or id')
    .option('--period <duration>', 'how far back: 1h, 24h, 7d, 30d ...', '24h')
    .option('--bucket <duration>', 'width of one row of the series (default: about 24 rows)')
    .addOption(output())
    .action(async (name: string, opts: { period: string; bucket?: string }, cmd: Command) => {
      const ctx = context(cmd);
      const periodMs = parseDurationMs(opts.period);
      if (periodMs === undefined || periodMs <= 0 || /^\d+$/.test(opts.period))
        throw new UsageError(`--period ${opts.period} is not a duration such as 1h, 24h or 7d`);
      let bucketSeconds = bucketFor(periodMs);
      if (opts.bucket !== undefined) {
        const b = parseDurationMs(opts.bucket);
        if (b === undefined || b < 1000) throw new UsageError(`--bucket ${opts.bucket} is not a duration of at least 1s, e.g. 1h`);
        if (periodMs / b > 1000) throw new UsageError(`--bucket ${opts.bucket} makes more than 1000 rows over ${opts.period}; pick a wider one`);
        bucketSeconds = Math.round(b / 1000);
      }
      const now = Date.now();
      const from = new Date(now - periodMs).toISOString();
      const { fn, stats } = await fetchStats(ctx, name, { from, to: new Date(now).toISOString(), bucketSeconds });
      if (ctx.format === 'json') {
        ctx.out(json(stats));
        return;
      }
      ctx.out(formatStats(fn.label, stats, `last ${opts.period} (since ${localTime(from)}), rows of ${formatDurationMs(bucketSeconds * 1000)}`));
      ctx.out('\n');
      ctx.out(stats.series?.length ? formatSeries(stats.series) : 'no invocations in this period\n');
    });
}
