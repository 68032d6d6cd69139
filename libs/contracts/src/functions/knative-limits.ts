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

/** The part of a function's config these limits look at (FunctionConfigDto has this shape). */
export interface KnativeCheckedConfig {
  env?: Record<string, string> | null;
  secrets?: ReadonlyArray<{ env?: string }> | null;
  resources?: { timeoutMs?: number } | null;
  scaling?: { minInstances?: number; maxInstances?: number } | null;
}

/** Why `name` cannot be a function's environment variable, or undefined. `where` names the field for the message. */
export function reservedEnvProblem(name: string, where: string): string | undefined {
  if (!RESERVED_ENV_NAMES.includes(name)) return undefined;
  return `${where} is reserved: Knative sets ${RESERVED_ENV_NAMES.join(', ')} in every function's container (PORT is the port the function serves on); choose another name`;
}

/** Everything in `config` that a Knative Service could not carry, each as a message naming the field; [] when none. */
export function knativeConfigProblems(config: KnativeCheckedConfig | null | undefined): string[] {
  if (!config) return [];
  const problems: string[] = [];
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
