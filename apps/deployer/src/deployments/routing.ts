import {
  CanaryDto,
  CanaryView,
  DEFAULT_CANARY_STEPS,
  FunctionRuntimeSpec,
  LATEST_ALIAS,
  NO_ROUTING,
  Routing,
  TrafficSplit,
  TrafficView,
  ValidationError,
  VersionStats,
} from '@platform/contracts';
import type { Deployment, StoredVersion } from './deployment.entity';

/**
 * What a new deployment keeps of the one it replaces: the aliases, and the versions they name (so `stable` goes on
 * answering). A split or a canary ends: the version deployed takes all traffic.
 */
export function carryOver(previous: Deployment | null, spec: FunctionRuntimeSpec): Pick<Deployment, 'versions' | 'routing'> {
  if (!previous) return { versions: [], routing: { ...NO_ROUTING } };
  const known = [{ spec: previous.spec, env: previous.env }, ...(previous.versions ?? [])];
  const aliases: Record<string, number> = {};
  const versions: StoredVersion[] = [];
  for (const [name, version] of Object.entries(previous.routing?.aliases ?? {})) {
    const held = version === spec.version ? true : known.find((v) => v.spec.version === version);
    if (!held) continue;
    aliases[name] = version;
    if (held !== true && !versions.some((v) => v.spec.version === version)) versions.push(held);
  }
  return { versions, routing: { aliases, splits: null, sticky: false, revision: (previous.routing?.revision ?? 0) + 1 } };
}

/** The versions a routing sends invocations to, besides the deployment's own. */
export function versionsNeeded(routing: Routing, own: number): number[] {
  const wanted = new Set<number>([...Object.values(routing.aliases), ...(routing.splits ?? []).filter((s) => s.percent > 0).map((s) => s.version)]);
  wanted.delete(own);
  return [...wanted].sort((a, b) => a - b);
}

export function runningVersions(d: Pick<Deployment, 'version' | 'versions'>): number[] {
  return [d.version, ...(d.versions ?? []).map((v) => v.spec.version)].sort((a, b) => a - b);
}

export function toTrafficView(d: Deployment): TrafficView {
  const splits: TrafficSplit[] = d.routing?.splits?.length ? d.routing.splits : [{ version: d.version, percent: 100 }];
  return {
    functionId: d.functionId,
    label: d.label,
    version: d.version,
    aliases: { [LATEST_ALIAS]: d.version, ...(d.routing?.aliases ?? {}) },
    splits,
    sticky: d.routing?.sticky ?? false,
    versions: runningVersions(d),
    canary: d.canary ?? null,
    revision: d.routing?.revision ?? 0,
  };
}

/** A canary as asked, checked and started at its first step. */
export function startCanary(dto: CanaryDto, baseline: number, now: Date): CanaryView {
  if (dto.version === baseline) throw new ValidationError(`version ${baseline} is already deployed; a canary needs another version`);
  const steps = dto.steps ?? DEFAULT_CANARY_STEPS;
  for (let i = 1; i < steps.length; i++)
    if (steps[i] <= steps[i - 1]) throw new ValidationError(`canary.steps must rise: ${steps[i]} after ${steps[i - 1]} (e.g. [10, 25, 50, 100])`);
  if (steps[steps.length - 1] !== 100) throw new ValidationError('canary.steps must end at 100 (the canary then takes all traffic)');
  return {
    version: dto.version,
    baseline,
    steps,
    step: 0,
    intervalSeconds: dto.intervalSeconds ?? 60,
    maxErrorRate: dto.maxErrorRate ?? 0.1,
    minInvocations: dto.minInvocations ?? 5,
    state: 'RUNNING',
    reason: null,
    stepStartedAt: now.toISOString(),
  };
}

export function canarySplits(c: CanaryView): TrafficSplit[] {
  const percent = c.steps[c.step];
  return percent >= 100
    ? [{ version: c.version, percent: 100 }]
    : [
        { version: c.baseline, percent: 100 - percent },
        { version: c.version, percent },
      ];
}

export type CanaryDecision = { action: 'wait' } | { action: 'advance' } | { action: 'promote' } | { action: 'rollback'; reason: string };

/**
 * One look at a running canary, given its version's figures since the step began: above the error rate (once it had
 * minInvocations) it goes back; when the step's interval passed with enough invocations, on to the next step (the last
 * one promotes it). Too few invocations: the step waits for more.
 */
export function judgeCanary(c: CanaryView, stats: Pick<VersionStats, 'invocations' | 'failures' | 'errorRate'>, now: Date): CanaryDecision {
  const enough = stats.invocations >= Math.max(1, c.minInvocations);
  if (enough && stats.errorRate > c.maxErrorRate) {
    return {
      action: 'rollback',
      reason:
        `version ${c.version} failed ${stats.failures} of ${stats.invocations} invocations (error rate ${stats.errorRate.toFixed(3)} > ${c.maxErrorRate}) ` +
        `at ${c.steps[c.step]}%; all traffic went back to version ${c.baseline}`,
    };
  }
  const due = now.getTime() - Date.parse(c.stepStartedAt) >= c.intervalSeconds * 1000;
  if (!due || (!enough && c.minInvocations > 0)) return { action: 'wait' };
  return c.step + 1 >= c.steps.length || c.steps[c.step + 1] >= 100 ? { action: 'promote' } : { action: 'advance' };
}
