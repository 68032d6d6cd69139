import type { FunctionConfigDto } from '@platform/contracts';
import {
  KNATIVE_MAX_TIMEOUT_MS,
  LABEL_PATTERN,
  METRIC_NAME_PATTERN,
  reservedEnvProblem,
  SCALING_DEFAULTS,
  SCALING_METRICS,
  scalingMetricProblems,
  type ScalingMetric,
} from '@platform/contracts/knative-limits';
import { allTemplates, matchRuntime, runtimeNames, templateRuntime } from '@platform/runtimes/names';
import { existsSync, readFileSync } from 'fs';
import * as path from 'path';
import { formatDurationMs, parseBytes, parseDurationMs, parseMemoryMb } from './units';
import { Located, show, YamlReader } from './yaml-reader';
import { cronProblem, isTimeZone } from '@platform/sources';
import { readTrigger } from './trigger-yaml';

/**
 * function.yaml: what a function is (name, runtime, handler) and how it runs (triggers, resources, environment,
 * scaling), written the way people write Kubernetes and Serverless files, mapped to the gateway's API config.
 */
export interface FunctionManifest {
  name?: string;
  runtime?: string;
  handler?: string;
  description?: string;
  template?: string;
  config: FunctionConfigDto;
}

export const MANIFEST_FILE = 'function.yaml';

// Loading all of @platform/contracts at run time costs the CLI most of a second on every command: the label rule and
// Knative's limits come from its light entry point (@platform/contracts/knative-limits), the event type is copied (a
// unit test keeps it equal). Runtimes and templates are the descriptors' (@platform/runtimes/names, which loads only them).
export { LABEL_PATTERN };
export const EVENT_TYPE_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*(\.[A-Za-z0-9_-]+)*$/;
/** Every runtime's templates, for messages. */
export const templateNames = () =>
  allTemplates()
    .map((t) => t.name)
    .join(', ');
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_NAME = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

const TOP = [
  'name',
  'runtime',
  'handler',
  'description',
  'template',
  'triggers',
  'resources',
  'environment',
  'secrets',
  'scaling',
  'network',
  'target',
  'labels',
];
const ms = (n: number) => formatDurationMs(n);

/** Reads `<dir>/function.yaml` when there is one. */
export function loadFunctionYaml(dir: string, env: Record<string, string | undefined>, file = MANIFEST_FILE): FunctionManifest | undefined {
  const full = path.resolve(dir, file);
  if (!existsSync(full)) return undefined;
  return parseFunctionYaml(readFileSync(full, 'utf8'), env, file);
}

export function parseFunctionYaml(text: string, env: Record<string, string | undefined>, file = MANIFEST_FILE): FunctionManifest {
  const r = new YamlReader(file, text, env);
  if (r.isNull(r.root)) return { config: {} };
  const top = r.entries(r.root, TOP);
  const out: FunctionManifest = { config: {} };
  const config = out.config;
  const get = (key: string) => {
    const at = top.get(key);
    return at && !r.isNull(at) ? at : undefined;
  };
  let at: Located | undefined;

  if ((at = get('name'))) {
    out.name = r.string(at, 'hello-world');
    if (!LABEL_PATTERN.test(out.name))
      r.fail(
        at,
        `${show(out.name)} is not a valid name: use 1-63 lowercase letters, digits or dashes, starting with a letter and ending with a letter or digit`,
      );
  }
  if ((at = get('runtime'))) {
    out.runtime = r.string(at, 'python3.11');
    if (!matchRuntime(out.runtime)) r.fail(at, `${show(out.runtime)} is not a runtime the platform runs (${runtimeNames()})`);
  }
  if ((at = get('handler'))) {
    out.handler = r.string(at, 'function.handle');
    if (!/^[^\s]+\.[A-Za-z_*$][\w$]*$|^[^\s]+\.\*$/.test(out.handler)) r.fail(at, `${show(out.handler)} is not <module>.<function>, e.g. function.handle`);
  }
  if ((at = get('description'))) out.description = r.text(at);
  if ((at = get('template'))) {
    out.template = r.string(at);
    if (!templateRuntime(out.template)) r.fail(at, `${show(out.template)} is not a template (${templateNames()})`);
  }
  if ((at = get('triggers'))) config.triggers = r.items(at).map((item, i) => readTrigger(r, item, i));
  if ((at = get('resources'))) config.resources = readResources(r, at);
  if ((at = get('environment'))) {
    config.env = {};
    for (const [name, value] of r.entries(at)) {
      if (!ENV_NAME.test(name))
        r.fail({ ...value, node: value.keyNode ?? null }, 'not a valid environment variable name (letters, digits and _, not starting with a digit)');
      const reserved = reservedEnvProblem(name, name);
      if (reserved) r.fail({ ...value, node: value.keyNode ?? null }, reserved);
      config.env[name] = r.text(value);
    }
  }
  if ((at = get('secrets'))) config.secrets = readSecrets(r, at);
  if ((at = get('scaling'))) {
    config.scaling = readScaling(r, at);
    // metric, target and customMetric together (and target against the memory limit), at the scaling block's line.
    const problems = scalingMetricProblems(config);
    if (problems.length) r.fail(at, problems.map((p) => p.replace('config.scaling.', '')).join('; '));
  }
  if ((at = get('network'))) {
    const n = r.entries(at, ['egress']);
    const egress = n.get('egress');
    config.network = egress && !r.isNull(egress) ? { egress: r.bool(egress) } : {};
  }
  if ((at = get('target'))) {
    const target = r.string(at);
    if (target !== 'local' && target !== 'knative') r.fail(at, `${show(target)} is not a target (local or knative)`);
    config.target = target as 'local' | 'knative';
  }
  if ((at = get('labels'))) config.labels = Object.fromEntries([...r.entries(at)].map(([k, v]) => [k, r.text(v)]));
  return out;
}

export { cronProblem, isTimeZone };

function readResources(r: YamlReader, at: Located): NonNullable<FunctionConfigDto['resources']> {
  const out: NonNullable<FunctionConfigDto['resources']> = {};
  const mib = (n: number) => `${n}Mi`;
  const bytes = (n: number) => `${n} bytes`;
  for (const [key, v] of r.entries(at, ['memory', 'timeout', 'cpu', 'max_request_bytes', 'max_response_bytes', 'max_processes'])) {
    if (r.isNull(v)) continue;
    if (key === 'memory') out.memoryMb = r.measure(v, parseMemoryMb, 'a memory size (e.g. 256Mi)', 16, 16384, mib);
    else if (key === 'timeout') out.timeoutMs = r.measure(v, parseDurationMs, 'a duration (e.g. 30s or 500ms)', 10, KNATIVE_MAX_TIMEOUT_MS, ms);
    else if (key === 'cpu') {
      const cpu = String(r.scalar(v));
      if (!/^\d+(\.\d+)?m?$/.test(cpu)) r.fail(v, `${show(cpu)} is not a CPU amount (e.g. 250m or 1)`);
      out.cpu = cpu;
    } else if (key === 'max_processes') out.maxProcesses = r.int(v, 1, 4096);
    else {
      const n = Math.floor(r.measure(v, parseBytes, 'a size (e.g. 6Mi)', 1, 104_857_600, bytes));
      if (key === 'max_request_bytes') out.maxRequestBytes = n;
      else out.maxResponseBytes = n;
    }
  }
  return out;
}

function readScaling(r: YamlReader, at: Located): NonNullable<FunctionConfigDto['scaling']> {
  const out: NonNullable<FunctionConfigDto['scaling']> = {};
  // min and max are how function docs write them (scaling: {min: 0, max: 100}).
  const alias: Record<string, string> = { min: 'min_instances', max: 'max_instances', customMetric: 'custom_metric' };
  const entries = new Map<string, Located>();
  const spelled = new Map<string, string>();
  for (const [written, v] of r.entries(at, [
    'min_instances',
    'min',
    'max_instances',
    'max',
    'concurrency',
    'idle_timeout',
    'queue_size',
    'metric',
    'target',
    'custom_metric',
    'customMetric',
  ])) {
    const key = alias[written] ?? written;
    const before = spelled.get(key);
    if (before !== undefined) r.fail({ ...v, node: v.keyNode ?? null }, `${written} and ${before} are the same setting; write it once`);
    spelled.set(key, written);
    entries.set(key, v);
  }
  for (const [key, v] of entries) {
    if (r.isNull(v)) continue;
    if (key === 'min_instances') out.minInstances = r.int(v, 0, 100);
    else if (key === 'max_instances') out.maxInstances = r.int(v, 1, 1000);
    else if (key === 'concurrency') out.concurrency = r.int(v, 1, 1000);
    else if (key === 'idle_timeout') out.idleTimeoutMs = r.measure(v, parseDurationMs, 'a duration (e.g. 60s)', 100, 86_400_000, ms);
    else if (key === 'queue_size') out.queueSize = r.int(v, 0, 100_000);
    else if (key === 'metric') {
      const m = r.string(v, 'rps');
      if (!(SCALING_METRICS as readonly string[]).includes(m)) r.fail(v, `${m} is not a scaling metric (${SCALING_METRICS.join(', ')})`);
      out.metric = m as ScalingMetric;
    } else if (key === 'custom_metric') {
      const name = r.string(v, 'queue_backlog');
      if (!METRIC_NAME_PATTERN.test(name)) r.fail(v, `${name} is not a Prometheus-style metric name (letters, digits, _ and :, not starting with a digit)`);
      out.customMetric = name;
    } else {
      const t = r.scalar(v);
      const n = typeof t === 'string' && t.trim() !== '' ? Number(t) : t;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0.01 || n > 100_000) r.fail(v, `${JSON.stringify(t)} is not a number from 0.01 to 100000`);
      out.target = n;
    }
  }
  if (out.minInstances !== undefined && out.maxInstances !== undefined && out.minInstances > out.maxInstances) {
    r.fail(entries.get('min_instances')!, `${out.minInstances} is more than the maximum (${out.maxInstances})`);
  }
  if (out.minInstances !== undefined && out.maxInstances === undefined && out.minInstances > SCALING_DEFAULTS.maxInstances) {
    r.fail(entries.get('min_instances')!, `${out.minInstances} is more than the default maximum (${SCALING_DEFAULTS.maxInstances}); set max_instances too`);
  }
  return out;
}

/** `DB_PASSWORD: db` or `DB_PASSWORD: {secret: db, key: password}`. */
function readSecrets(r: YamlReader, at: Located): NonNullable<FunctionConfigDto['secrets']> {
  return [...r.entries(at)].map(([env, v]) => {
    if (!ENV_NAME.test(env)) r.fail({ ...v, node: v.keyNode ?? null }, 'not a valid environment variable name');
    const reserved = reservedEnvProblem(env, env);
    if (reserved) r.fail({ ...v, node: v.keyNode ?? null }, reserved);
    let secret: Located = v;
    let key: string | undefined;
    if (r.isMapping(v)) {
      const f = r.entries(v, ['secret', 'key']);
      const s = f.get('secret');
      if (!s || r.isNull(s)) r.fail(v, 'needs the name of the secret, e.g. {secret: db, key: password}');
      secret = s;
      const k = f.get('key');
      if (k && !r.isNull(k)) key = r.string(k);
    }
    const name = r.string(secret, 'db');
    if (!SECRET_NAME.test(name)) r.fail(secret, `${show(name)} is not a secret name (lowercase letters, digits and dashes)`);
    return key === undefined ? { env, secret: name } : { env, secret: name, key };
  });
}
