import {
  CONFIG_DEFAULTS,
  concurrencyOf,
  DeploymentDriverName,
  EffectiveConfig,
  effectiveConfig,
  ENTRYPOINT_PATTERN,
  FunctionRuntimeSpec,
  METRIC_NAME_PATTERN,
  NO_ROUTING,
  parseSha256Digest,
  Routing,
  RuntimeFamily,
  SCALING_METRICS,
  type ScalingMetric,
  ValidationError,
} from '@platform/contracts';
import { entrypointProblem, RUNTIMES, runtimeDescriptor } from '@platform/runtimes';

/** A deployment as the invoker keeps it: from PUT /deployments/:functionId or the deployer's RPC answers. */
export interface DeploymentOrder {
  deploymentId: string;
  spec: FunctionRuntimeSpec;
  env: Record<string, string>;
  /** Names of the variables of `env` whose values are secrets: held in memory only, masked in captured logs. */
  secrets: string[];
  driver: DeploymentDriverName;
  /** Knative Service URL (driver knative). */
  url: string | null;
  /** The other versions it runs (each an order of its own, same deploymentId) and how invocations spread over them. */
  versions: DeploymentOrder[];
  routing: Routing;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function int(v: unknown, fallback: number, min: number): number {
  return Number.isInteger(v) && (v as number) >= min ? (v as number) : fallback;
}

function scalingMetricOf(s: Record<string, unknown>): Pick<EffectiveConfig['scaling'], 'metric' | 'target' | 'customMetric'> {
  const target = typeof s.target === 'number' && Number.isFinite(s.target) && s.target > 0 ? s.target : undefined;
  const known = (SCALING_METRICS as readonly unknown[]).includes(s.metric) ? (s.metric as ScalingMetric) : 'concurrency';
  if (known === 'custom') {
    if (typeof s.customMetric !== 'string' || !METRIC_NAME_PATTERN.test(s.customMetric) || target === undefined) return { metric: 'concurrency' };
    return { metric: 'custom', target, customMetric: s.customMetric };
  }
  return { metric: known, target: known === 'concurrency' && target !== undefined ? Math.max(1, Math.round(target)) : target };
}

/**
 * The runtime config with every limit present and sane, whatever an older or newer deployer sent (a missing
 * concurrency gets the runtime's default).
 */
export function normalizeConfig(c: unknown, family: RuntimeFamily): EffectiveConfig {
  const config = isObject(c) ? c : {};
  const r = isObject(config.resources) ? config.resources : {};
  const s = isObject(config.scaling) ? config.scaling : {};
  const n = isObject(config.network) ? config.network : {};
  const maxInstances = int(s.maxInstances, CONFIG_DEFAULTS.maxInstances, 1);
  const memoryMb = int(r.memoryMb, CONFIG_DEFAULTS.memoryMb, 16);
  const positive = (v: unknown) => (Number.isInteger(v) && (v as number) >= 1 ? (v as number) : undefined);
  const [set, setAsync] = [positive(s.concurrency), positive(s.asyncConcurrency)];
  // The registry's effective config carries both (what an async Python handler takes, when left to the default).
  const concurrency =
    set === undefined
      ? concurrencyOf(runtimeDescriptor(family).concurrency, undefined, memoryMb)
      : { concurrency: set, ...(setAsync ? { asyncConcurrency: setAsync } : {}) };
  return {
    env: isObject(config.env) ? (config.env as Record<string, string>) : {},
    secrets: Array.isArray(config.secrets) ? (config.secrets as EffectiveConfig['secrets']) : [],
    resources: {
      memoryMb,
      timeoutMs: int(r.timeoutMs, CONFIG_DEFAULTS.timeoutMs, 10),
      cpu: typeof r.cpu === 'string' ? r.cpu : undefined,
      maxRequestBytes: int(r.maxRequestBytes, CONFIG_DEFAULTS.maxRequestBytes, 1),
      maxResponseBytes: int(r.maxResponseBytes, CONFIG_DEFAULTS.maxResponseBytes, 1),
      maxProcesses: int(r.maxProcesses, CONFIG_DEFAULTS.maxProcesses, 1),
    },
    scaling: {
      minInstances: Math.min(int(s.minInstances, CONFIG_DEFAULTS.minInstances, 0), maxInstances),
      maxInstances,
      ...concurrency,
      idleTimeoutMs: int(s.idleTimeoutMs, CONFIG_DEFAULTS.idleTimeoutMs, 100),
      queueSize: int(s.queueSize, CONFIG_DEFAULTS.queueSize, 0),
      asyncQueueSize: int(s.asyncQueueSize, CONFIG_DEFAULTS.asyncQueueSize, 1),
      // A metric this invoker does not know (a newer deployer), or custom without its name, scales on concurrency.
      ...scalingMetricOf(s),
    },
    // The invoker does not retry (the deployer's delivery loop does): the defaults fill what the registry left out.
    retry: effectiveConfig(isObject(config.retry) ? { retry: config.retry } : {}, runtimeDescriptor(family).concurrency).retry,
    network: { egress: n.egress === true },
    triggers: Array.isArray(config.triggers) ? (config.triggers as EffectiveConfig['triggers']) : [],
    target: config.target === 'knative' ? 'knative' : config.target === 'local' ? 'local' : undefined,
  };
}

/**
 * Checks a deployment's runtime spec; throws a ValidationError naming every problem. The path's
 * function id must be the spec's (id or label).
 */
export function parseOrder(pathId: string, body: unknown, driver: DeploymentDriverName = 'local', url: string | null = null): DeploymentOrder {
  const order = parseOne(pathId, body, driver, url);
  const b = body as Record<string, unknown>;
  const problems: string[] = [];
  const versions: DeploymentOrder[] = [];
  if (b.versions !== undefined) {
    if (!Array.isArray(b.versions)) problems.push('versions must be a list of {spec, env, secrets}');
    else
      b.versions.forEach((v: unknown, i: number) => {
        try {
          const one = isObject(v) ? v : {};
          const endpoint =
            typeof one.endpoint === 'string' ? one.endpoint : driver === 'knative' ? tagUrl(url, (one.spec as { version?: number })?.version) : null;
          const parsed = parseOne(order.spec.functionId, { ...one, deploymentId: order.deploymentId }, driver, endpoint);
          if (parsed.spec.version === order.spec.version || versions.some((x) => x.spec.version === parsed.spec.version))
            problems.push(`versions[${i}]: version ${parsed.spec.version} is named twice`);
          versions.push({ ...parsed, versions: [], routing: { ...NO_ROUTING } });
        } catch (err) {
          problems.push(`versions[${i}]: ${(err as Error).message}`);
        }
      });
  }
  const routing = parseRouting(b.routing, problems);
  if (problems.length) throw new ValidationError(problems.join('; '), problems);
  const running = new Set([order.spec.version, ...versions.map((v) => v.spec.version)]);
  for (const v of [...Object.values(routing.aliases), ...(routing.splits ?? []).filter((s) => s.percent > 0).map((s) => s.version)])
    if (!running.has(v)) problems.push(`routing names version ${v}, which the order does not run`);
  if (problems.length) throw new ValidationError(problems.join('; '), problems);
  return { ...order, versions, routing };
}

/** A Knative tag's URL: the Service's host with `v{n}-` in front (Knative's default tag template). */
export function tagUrl(url: string | null, version: number | undefined): string | null {
  if (!url || !Number.isInteger(version)) return url;
  const u = new URL(url);
  u.hostname = `v${version}-${u.hostname}`;
  return u.toString().replace(/\/$/, '');
}

function parseRouting(r: unknown, problems: string[]): Routing {
  if (r === undefined || r === null) return { ...NO_ROUTING };
  if (!isObject(r)) {
    problems.push('routing must be an object {aliases, splits, sticky, revision}');
    return { ...NO_ROUTING };
  }
  const aliases: Record<string, number> = {};
  if (isObject(r.aliases)) for (const [k, v] of Object.entries(r.aliases)) if (Number.isInteger(v)) aliases[k] = v as number;
  let splits: Routing['splits'] = null;
  if (Array.isArray(r.splits)) {
    splits = r.splits.filter(isObject).map((s) => ({ version: Number(s.version), percent: Number(s.percent) }));
    const sum = splits.reduce((n, s) => n + s.percent, 0);
    if (splits.some((s) => !Number.isInteger(s.version) || !Number.isInteger(s.percent) || s.percent < 0) || sum !== 100)
      problems.push(`routing.splits must be whole percentages summing to 100 (they sum to ${sum})`);
  }
  return { aliases, splits, sticky: r.sticky === true, revision: Number.isInteger(r.revision) ? (r.revision as number) : 0 };
}

function parseOne(pathId: string, body: unknown, driver: DeploymentDriverName, url: string | null): Omit<DeploymentOrder, 'versions' | 'routing'> {
  if (!isObject(body)) throw new ValidationError('The request body must be a JSON object {deploymentId, spec, env}');
  const problems: string[] = [];
  const spec = isObject(body.spec) ? body.spec : undefined;
  if (typeof body.deploymentId !== 'string' || !body.deploymentId.trim()) problems.push('deploymentId must be a non-empty string');
  if (!spec) problems.push('spec must be the function runtime spec (an object)');
  else {
    if (typeof spec.functionId !== 'string' || !spec.functionId) problems.push('spec.functionId must be the function id');
    if (typeof spec.label !== 'string' || !spec.label) problems.push('spec.label must be the function label');
    if (!Number.isInteger(spec.version)) problems.push('spec.version must be a whole number');
    if (!RUNTIMES.some((r) => r.name === spec.family)) problems.push(`spec.family must be one of ${RUNTIMES.map((r) => `"${r.name}"`).join(', ')}`);
    if (spec.runtimeVersion !== undefined && (typeof spec.runtimeVersion !== 'string' || !/^\d+(\.\d+)*$/.test(spec.runtimeVersion)))
      problems.push('spec.runtimeVersion must be a version such as "3.11.2"');
    const form = RUNTIMES.some((r) => r.name === spec.family) ? runtimeDescriptor(String(spec.family)).entrypoint : undefined;
    const entryProblem = typeof spec.entrypoint === 'string' && form ? entrypointProblem(String(spec.family), spec.entrypoint) : undefined;
    if (entryProblem) problems.push(`spec.entrypoint: ${entryProblem}`);
    else if (form && typeof spec.entrypoint !== 'string') problems.push('spec.entrypoint must be a string');
    else if (!form && (typeof spec.entrypoint !== 'string' || !ENTRYPOINT_PATTERN.test(spec.entrypoint))) {
      problems.push('spec.entrypoint must look like "<module>.<function>", e.g. "handler.handle" or "handler.*"');
    }
    if (driver === 'local' && (typeof spec.bundleDigest !== 'string' || !parseSha256Digest(spec.bundleDigest))) {
      problems.push('spec.bundleDigest must be a sha256 digest (sha256:<64 hex digits>)');
    }
    if (pathId && spec.functionId !== pathId && spec.label !== pathId)
      problems.push(`spec.functionId (${String(spec.functionId)}) does not match the function in the path (${pathId})`);
  }
  const env = body.env ?? {};
  if (!isObject(env) || Object.values(env).some((v) => typeof v !== 'string')) problems.push('env must be an object of string values');
  const secrets = body.secrets ?? [];
  if (!Array.isArray(secrets) || secrets.some((n) => typeof n !== 'string'))
    problems.push('secrets must be a list of the names of env variables that hold secrets');
  if (driver === 'knative' && !url) problems.push('a knative deployment needs its url');
  if (problems.length) throw new ValidationError(problems.join('; '), problems);
  const s = spec as unknown as FunctionRuntimeSpec;
  return {
    deploymentId: body.deploymentId as string,
    spec: { ...s, config: normalizeConfig(s.config, s.family) },
    env: env as Record<string, string>,
    // The names the order gives, and those the spec maps secrets to (an older deployer sends no list).
    secrets: [...new Set([...(secrets as string[]), ...(s.config?.secrets ?? []).map((r) => r.env)])].filter((n) => n in (env as object)),
    driver,
    url,
  };
}

/**
 * What a pool runs: two orders with the same key can share one (and its workers). The runtime's exact version is
 * part of it: python3.9 and python3.11 of the same bundle never share a worker.
 */
export function poolKey(o: DeploymentOrder): string {
  const s = o.spec;
  return JSON.stringify([s.version, s.bundleDigest, s.entrypoint, s.family, s.runtimeVersion ?? null, s.config, o.env, o.secrets]);
}
