/**
 * What Knative's admission webhook refuses in a serving.knative.dev/v1 Service, as limits on a function's config, so
 * the API refuses it with a 400 at create or update instead of a deploy failing on a cluster only. No imports: the
 * CLI loads this file on its own (@platform/contracts/knative-limits) to check a function.yaml before sending it.
 */

/** Knative's default max-revision-timeout-seconds (config-defaults): a longer timeoutSeconds is refused. */
export const KNATIVE_MAX_TIMEOUT_MS = 600_000;

/** Knative sets these in every container and refuses a Service whose container sets one of them. */
export const RESERVED_ENV_NAMES: readonly string[] = ['PORT', 'K_SERVICE', 'K_CONFIGURATION', 'K_REVISION'];

/** A Kubernetes object name, label value, or host label: at most 63 characters (DNS-1035). */
export const MAX_NAME_LENGTH = 63;

/**
 * A label names a function in URLs and, on Knative, names its Service, so it is a DNS-1035 label: Knative validates a
 * Service name as one (lowercase letters, digits and dashes, starting with a letter, at most 63 characters). 63 is
 * enough even with the suffixes Knative and the driver add: Knative's own revision names (`<label>-00001`, the
 * `-private` Service) go through kmeta.ChildName, which shortens a long name with a hash instead of refusing it; the
 * driver's named revisions (`<label>-v{n}`) and tag hosts (`v{n}-<label>`) are used only while they fit
 * (revisionNameFits), and a label too long for them runs one version at a time.
 */
export const LABEL_PATTERN = /^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$/;
export const MAX_LABEL_LENGTH = MAX_NAME_LENGTH;

/** The driver's name for the revision of a version: `{service}-v{n}` (Knative requires the Service's name as prefix). */
export function knativeRevisionName(service: string, version: number): string {
  return `${service}-v${version}`;
}

/** Whether `{service}-v{n}` is still a name Kubernetes takes (revision names also become label values). */
export function revisionNameFits(service: string, version: number): boolean {
  return knativeRevisionName(service, version).length <= MAX_NAME_LENGTH;
}

/** The defaults the limits are checked against when a field is not set (CONFIG_DEFAULTS re-uses them). */
export const SCALING_DEFAULTS = { minInstances: 0, maxInstances: 10 } as const;

/** What a function's instances are added on (config.scaling.metric). */
export const SCALING_METRICS = ['concurrency', 'rps', 'cpu', 'memory', 'custom'] as const;
export type ScalingMetric = (typeof SCALING_METRICS)[number];

/** scaling.target when not set: Knative's rps default, the HPA's usual 80% CPU, 80% of the memory limit. */
export const SCALING_TARGET_DEFAULTS = { rps: 200, cpu: 80, memoryShare: 0.8 } as const;

/** A Prometheus metric name (what an HPA's custom metric and the x-hks-metric header name). */
export const METRIC_NAME_PATTERN = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/** The memory limit when resources.memoryMb is not set (CONFIG_DEFAULTS re-uses it). */
export const DEFAULT_MEMORY_MB = 128;

/** The part of a function's config these limits look at (FunctionConfigDto has this shape). */
export interface KnativeCheckedConfig {
  env?: Record<string, string> | null;
  secrets?: ReadonlyArray<{ env?: string }> | null;
  resources?: { timeoutMs?: number; memoryMb?: number } | null;
  scaling?: { minInstances?: number; maxInstances?: number; metric?: string; target?: number; customMetric?: string } | null;
}

/**
 * The cross-field rules of scaling.metric, target and customMetric, each as a message naming the rule; [] when none.
 * (Field types and ranges are the DTO's; these need two fields at once.)
 */
export function scalingMetricProblems(config: Pick<KnativeCheckedConfig, 'resources' | 'scaling'> | null | undefined): string[] {
  const s = config?.scaling;
  if (!s) return [];
  const metric = s.metric ?? 'concurrency';
  const problems: string[] = [];
  if (metric === 'custom' && (typeof s.customMetric !== 'string' || s.customMetric === ''))
    problems.push('config.scaling.customMetric is required when scaling.metric is "custom" (the name of the metric the function reports)');
  if (metric !== 'custom' && s.customMetric !== undefined && s.customMetric !== null)
    problems.push(`config.scaling.customMetric is only for scaling.metric "custom" (metric is "${metric}"); remove it or set metric: custom`);
  if (metric === 'custom' && s.target === undefined)
    problems.push('config.scaling.target is required when scaling.metric is "custom" (the value of the metric per instance)');
  if (typeof s.target === 'number') {
    if (metric === 'cpu' && s.target > 100)
      problems.push(`config.scaling.target ${s.target} is more than 100: with metric "cpu" it is a percentage of one core`);
    const memoryMb = config?.resources?.memoryMb ?? DEFAULT_MEMORY_MB;
    if (metric === 'memory' && s.target > memoryMb)
      problems.push(`config.scaling.target ${s.target} MiB is more than resources.memoryMb (${memoryMb}): an instance would be killed before reaching it`);
    if (metric === 'concurrency' && !Number.isInteger(s.target))
      problems.push(`config.scaling.target ${s.target} must be a whole number with metric "concurrency"`);
  }
  return problems;
}

/** Why `name` cannot be a function's environment variable, or undefined. `where` names the field for the message. */
export function reservedEnvProblem(name: string, where: string): string | undefined {
  if (!RESERVED_ENV_NAMES.includes(name)) return undefined;
  return `${where} is reserved: Knative sets ${RESERVED_ENV_NAMES.join(', ')} in every function's container (PORT is the port the function serves on); choose another name`;
}

/** Everything in `config` that a Knative Service could not carry, each as a message naming the field; [] when none. */
export function knativeConfigProblems(config: KnativeCheckedConfig | null | undefined): string[] {
  if (!config) return [];
  const problems: string[] = scalingMetricProblems(config);
  for (const name of Object.keys(config.env ?? {})) {
    const p = reservedEnvProblem(name, `config.env.${name}`);
    if (p) problems.push(p);
  }
  (config.secrets ?? []).forEach((s, i) => {
    const p = typeof s?.env === 'string' ? reservedEnvProblem(s.env, `config.secrets[${i}].env "${s.env}"`) : undefined;
    if (p) problems.push(p);
  });
  const timeoutMs = config.resources?.timeoutMs;
  if (typeof timeoutMs === 'number' && timeoutMs > KNATIVE_MAX_TIMEOUT_MS) problems.push(timeoutProblem(timeoutMs));
  const min = config.scaling?.minInstances ?? SCALING_DEFAULTS.minInstances;
  const setMax = config.scaling?.maxInstances;
  const max = setMax ?? SCALING_DEFAULTS.maxInstances;
  if (typeof min === 'number' && typeof max === 'number' && min > max) {
    problems.push(
      `config.scaling.minInstances (${min}) is more than maxInstances (${max}${setMax === undefined ? ', the default' : ''}); ` +
        `set maxInstances to at least ${min} or lower minInstances`,
    );
  }
  return problems;
}

/** The message for a timeout above Knative's maximum. */
export function timeoutProblem(timeoutMs: number): string {
  return `config.resources.timeoutMs ${timeoutMs} is more than ${KNATIVE_MAX_TIMEOUT_MS} (10 minutes, the longest request Knative lets a revision take)`;
}
