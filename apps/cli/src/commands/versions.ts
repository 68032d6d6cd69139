import type { DeploymentView, FunctionVersionView, TrafficSplit, TrafficView } from '@platform/contracts';
import { Command, InvalidArgumentError, Option } from 'commander';
import { json, localTime, table } from '../output/format';
import { CommandContext } from './context';

const output = () => new Option('-o, --output <format>', 'table or json').choices(['table', 'json']);

function wholeNumber(what: string) {
  return (v: string): number => {
    if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${what} must be a whole number from 1`);
    return Number(v);
  };
}

/** `1=90,2=10` -> [{version: 1, percent: 90}, {version: 2, percent: 10}] */
export function parseSplits(text: string): TrafficSplit[] {
  const splits = text.split(',').map((part) => {
    const m = /^\s*v?(\d{1,9})\s*[=:]\s*(\d{1,3})%?\s*$/.exec(part);
    if (!m) throw new InvalidArgumentError(`"${part}" is not VERSION=PERCENT (e.g. 1=90,2=10)`);
    return { version: Number(m[1]), percent: Number(m[2]) };
  });
  return splits;
}

export function rollbackCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('rollback')
    .summary('deploy the version that served before the current one (or --to N)')
    .argument('<name>', 'function name or id')
    .option('--to <version>', 'the version to go back to', wholeNumber('--to'))
    .addOption(output())
    .action(async (name: string, opts: { to?: number }, cmd: Command) => {
      const ctx = context(cmd);
      const f = await ctx.getFunction(name);
      const view = await ctx.client.call<DeploymentView>('POST', `/api/v1/functions/${f.id}/rollback`, { body: opts.to ? { to: opts.to } : {} });
      if (ctx.format === 'json') return ctx.out(json(view));
      ctx.out(`${f.label} rolled back: version ${view.version} serves (${view.status.toLowerCase()})\n`);
    });
}

export function versionsCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('versions')
    .summary("list a function's versions, their builds, and where traffic goes")
    .argument('<name>', 'function name or id')
    .addOption(output())
    .action(async (name: string, _opts: unknown, cmd: Command) => {
      const ctx = context(cmd);
      const f = await ctx.getFunction(name);
      const versions = await ctx.client.call<FunctionVersionView[]>('GET', `/api/v1/functions/${f.id}/versions`);
      const traffic = await ctx.client.call<TrafficView>('GET', `/api/v1/functions/${f.id}/traffic`).catch(() => null);
      if (ctx.format === 'json') return ctx.out(json({ versions, traffic }));
      const aliases = (v: number) =>
        Object.entries(traffic?.aliases ?? {})
          .filter(([, n]) => n === v)
          .map(([a]) => a)
          .join(',') || '-';
      const share = (v: number) => {
        const s = traffic?.splits.find((x) => x.version === v);
        return s ? `${s.percent}%` : '-';
      };
      ctx.out(
        table(
          ['VERSION', 'BUILD', 'TRAFFIC', 'ALIASES', 'BUNDLE', 'CREATED'],
          versions.map((v) => [
            v.version,
            v.buildStatus ?? 'never built',
            share(v.version),
            aliases(v.version),
            v.bundleDigest?.slice(0, 19) ?? '-',
            localTime(v.createdAt),
          ]),
        ),
      );
      if (traffic?.canary)
        ctx.note(`canary: version ${traffic.canary.version} ${traffic.canary.state.toLowerCase()}${traffic.canary.reason ? `: ${traffic.canary.reason}` : ''}`);
    });
}

export function trafficCommand(context: (cmd: Command) => CommandContext): Command {
  return new Command('traffic')
    .summary('split traffic across versions (--split 1=90,2=10), or start a canary (--canary N)')
    .argument('<name>', 'function name or id')
    .option('--split <splits>', 'VERSION=PERCENT,... summing to 100', parseSplits)
    .option('--sticky', 'keep each caller (X-Caller-Id, else its API key) on one version')
    .option('--canary <version>', 'shift traffic to this version step by step, rolling back above the error rate', wholeNumber('--canary'))
    .option('--steps <percents>', 'canary steps, e.g. 10,25,50,100', (v: string) => v.split(',').map(wholeNumber('each step')))
    .option('--interval <seconds>', 'seconds between canary steps', wholeNumber('--interval'))
    .option('--max-error-rate <rate>', 'roll the canary back above this error rate (0 to 1)', (v: string) => {
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('--max-error-rate must be a number from 0 to 1');
      return n;
    })
    .addOption(output())
    .action(
      async (
        name: string,
        opts: { split?: TrafficSplit[]; sticky?: boolean; canary?: number; steps?: number[]; interval?: number; maxErrorRate?: number },
        cmd: Command,
      ) => {
        const ctx = context(cmd);
        const f = await ctx.getFunction(name);
        const body = opts.canary
          ? {
              canary: {
                version: opts.canary,
                ...(opts.steps ? { steps: opts.steps } : {}),
                ...(opts.interval ? { intervalSeconds: opts.interval } : {}),
                ...(opts.maxErrorRate !== undefined ? { maxErrorRate: opts.maxErrorRate } : {}),
              },
            }
          : { splits: opts.split, ...(opts.sticky ? { sticky: true } : {}) };
        const view =
          opts.split || opts.canary
            ? await ctx.client.call<TrafficView>('PUT', `/api/v1/functions/${f.id}/traffic`, { body })
            : await ctx.client.call<TrafficView>('GET', `/api/v1/functions/${f.id}/traffic`);
        if (ctx.format === 'json') return ctx.out(json(view));
        ctx.out(`${view.label}: ${view.splits.map((s) => `v${s.version} ${s.percent}%`).join(', ')}${view.sticky ? ' (sticky)' : ''}\n`);
      },
    );
}
