import type { FunctionConfigDto, Trigger } from '@platform/contracts';
import type { RuntimeTemplate } from '@platform/runtimes';
import { sourceProblem } from '@platform/sources';
import { KNATIVE_MAX_TIMEOUT_MS, knativeConfigProblems } from '@platform/contracts/knative-limits';
import { UsageError } from '../errors';
import { findTemplate, matchRuntime, runtimeNames, templateRuntime } from '@platform/runtimes/names';
import { cronProblem, EVENT_TYPE_PATTERN, FunctionManifest, isTimeZone, LABEL_PATTERN, templateNames } from '../manifest/function-yaml';
import { parseDurationMs, parseMemoryMb } from '../manifest/units';

/** Flags of `hks function deploy` that say what the function is; each overrides the same field of function.yaml. */
export interface DeployFlags {
  runtime?: string;
  handler?: string;
  description?: string;
  template?: string;
  trigger?: string[];
  schedule?: string;
  timezone?: string;
  queue?: string;
  eventType?: string;
  memory?: string;
  timeout?: string;
  env?: string[];
  minInstances?: string;
  maxInstances?: string;
  concurrency?: string;
}

/** Body of POST /api/v1/functions (and PUT /api/v1/functions/{id}). */
export interface FunctionRequest {
  label: string;
  runtime: string;
  /** With `files`, the entry point: "<module>.<function>". */
  handler: string;
  template?: string;
  description?: string;
  files: Record<string, string>;
  config: FunctionConfigDto;
}

const TRIGGER_KINDS = ['http', 'cron', 'schedule', 'queue', 'event'];
const TRIGGER_FLAG: Record<string, string> = { schedule: '--schedule', queue: '--queue', event: '--event-type' };

export function buildFunctionRequest(
  name: string | undefined,
  manifest: FunctionManifest | undefined,
  flags: DeployFlags,
  files: Record<string, string>,
): FunctionRequest {
  const label = name ?? manifest?.name;
  if (!label) throw new UsageError('no function name: pass it (hks function deploy NAME) or set name in function.yaml');
  if (!LABEL_PATTERN.test(label)) {
    throw new UsageError(
      `"${label}" is not a valid function name: use 1-63 lowercase letters, digits or dashes, starting with a letter and ending with a letter or digit`,
    );
  }
  const runtime = flags.runtime ?? manifest?.runtime;
  if (!runtime) throw new UsageError('no runtime: pass --runtime (e.g. python3.11 or nodejs20) or set runtime in function.yaml');
  const matched = matchRuntime(runtime);
  if (!matched) throw new UsageError(`--runtime ${runtime} is not a runtime the platform runs (${runtimeNames()})`);
  const family = matched.descriptor.name;
  if (flags.template !== undefined && !templateRuntime(flags.template)) {
    throw new UsageError(`--template ${flags.template} is not a template (${templateNames()})`);
  }

  const named = flags.handler ?? manifest?.handler;
  const module = named ? moduleOf(named) : detectEntryModule(files, family);
  // A TypeScript module needs the typescript template to be compiled; other sources build as they are.
  const chosen = flags.template ?? manifest?.template;
  // Without one, the runtime's template whose own files are the module's (handler.ts: typescript), if not its default.
  const template = chosen ?? matched.descriptor.templates.slice(1).find((t) => uniqueFileOf(t, matched.descriptor.templates[0], module, files))?.name;
  const handler = named ?? `${module}.*`;
  const candidates = moduleFileCandidates(module, family, template);
  if (!candidates.some((f) => f in files)) {
    throw new UsageError(`handler "${handler}" needs ${candidates.slice(0, 2).join(' or ')}, which is not among the files to deploy`);
  }
  const description = flags.description ?? manifest?.description;
  return {
    label,
    runtime,
    handler,
    ...(template ? { template } : {}),
    ...(description !== undefined ? { description } : {}),
    files,
    config: applyConfigFlags(manifest?.config ?? {}, flags),
  };
}

/** Tried in this order when no handler is named, as the registry does (DEFAULT_ENTRY_MODULES in @platform/contracts). */
export const DEFAULT_ENTRY_MODULES = ['handler', 'function', 'main', 'index', 'app'];

/** Files that can hold an entry point's module: the template's (the runtime's default template without one). */
export function moduleFileCandidates(module: string, family: string, template?: string): string[] {
  return findTemplate(family, template)?.moduleFiles(module) ?? [];
}

/** Whether the first file of `module` among `files` is one only template `t` (not the default) takes, e.g. handler.ts. */
function uniqueFileOf(t: RuntimeTemplate, byDefault: RuntimeTemplate, module: string, files: Record<string, string>): boolean {
  const first = t.moduleFiles(module).find((f) => f in files);
  return first !== undefined && !byDefault.moduleFiles(module).includes(first);
}

function moduleOf(handler: string): string {
  const dot = handler.lastIndexOf('.');
  if (dot <= 0 || !/^[A-Za-z0-9_][A-Za-z0-9_./-]*\.([A-Za-z_$][A-Za-z0-9_$]*|\*)$/.test(handler)) {
    throw new UsageError(`handler "${handler}" is not <module>.<function>, e.g. function.handle (or function.* to find the function)`);
  }
  return handler.slice(0, dot);
}

/** No handler named: the first module of DEFAULT_ENTRY_MODULES that has a file; its function is found at run time. */
export function detectEntryModule(files: Record<string, string>, family: string): string {
  const templates = matchRuntime(family)?.descriptor.templates ?? [];
  for (const module of DEFAULT_ENTRY_MODULES) {
    if (templates.some((t) => t.moduleFiles(module).some((f) => f in files))) return module;
  }
  const example = templates[0] ? `function.handle for ${templates[0].moduleFiles('function')[0]}` : 'function.handle';
  throw new UsageError(`no handler: pass --handler <module>.<function> (e.g. ${example}) or set handler in function.yaml`);
}

export function applyConfigFlags(base: FunctionConfigDto, flags: DeployFlags): FunctionConfigDto {
  const config: FunctionConfigDto = { ...base };
  if (flags.memory !== undefined || flags.timeout !== undefined) {
    config.resources = { ...config.resources };
    if (flags.memory !== undefined) {
      const mb = parseMemoryMb(flags.memory);
      if (mb === undefined || mb < 16 || mb > 16384) throw new UsageError(`--memory '${flags.memory}' is not a memory size from 16Mi to 16Gi (e.g. 256Mi)`);
      config.resources.memoryMb = mb;
    }
    if (flags.timeout !== undefined) {
      const t = parseDurationMs(flags.timeout);
      if (t === undefined || t < 10 || t > KNATIVE_MAX_TIMEOUT_MS)
        throw new UsageError(`--timeout '${flags.timeout}' is not a duration from 10ms to 10m (e.g. 30s)`);
      config.resources.timeoutMs = t;
    }
  }
  if (flags.env?.length) {
    config.env = { ...config.env };
    for (const pair of flags.env) {
      const eq = pair.indexOf('=');
      const key = eq > 0 ? pair.slice(0, eq) : '';
      if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) throw new UsageError(`--env ${pair} is not NAME=value`);
      config.env[key] = pair.slice(eq + 1);
    }
  }
  const scaling: Array<[keyof DeployFlags, 'minInstances' | 'maxInstances' | 'concurrency', number, number]> = [
    ['minInstances', 'minInstances', 0, 100],
    ['maxInstances', 'maxInstances', 1, 1000],
    ['concurrency', 'concurrency', 1, 1000],
  ];
  for (const [flag, key, min, max] of scaling) {
    const raw = flags[flag] as string | undefined;
    if (raw === undefined) continue;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min || n > max) throw new UsageError(`--${kebab(flag)} ${raw} is not a whole number from ${min} to ${max}`);
    config.scaling = { ...config.scaling, [key]: n };
  }
  const triggers = flagTriggers(flags);
  if (triggers.length) {
    // A trigger flag replaces the file's triggers of the same kind and keeps the others.
    const kinds = new Set(triggers.map((t) => t.type));
    config.triggers = [...(config.triggers ?? []).filter((t) => !kinds.has(t.type)), ...triggers];
  }
  // The file and the flags together, checked as the API will (say --min-instances 20 with the default maximum).
  const problems = knativeConfigProblems(config);
  if (problems.length) throw new UsageError(problems.join('; '));
  return config;
}

function flagTriggers(flags: DeployFlags): Trigger[] {
  const kinds = new Set((flags.trigger ?? []).map((t) => t.toLowerCase()));
  for (const k of kinds) if (!TRIGGER_KINDS.includes(k)) throw new UsageError(`--trigger ${k} is not a trigger (http, cron, queue, event)`);
  // --schedule alone means a cron trigger; so do --queue and --event-type for theirs.
  if (flags.schedule !== undefined) kinds.add('cron');
  if (flags.queue !== undefined) kinds.add('queue');
  if (flags.eventType !== undefined) kinds.add('event');
  const out: Trigger[] = [];
  if (kinds.has('http')) out.push({ type: 'http' });
  if (kinds.has('cron') || kinds.has('schedule')) {
    if (!flags.schedule) throw new UsageError('--trigger cron needs --schedule, e.g. --schedule "0 * * * *"');
    const problem = cronProblem(flags.schedule);
    if (problem) throw new UsageError(`--schedule: ${problem}`);
    if (flags.timezone !== undefined && !isTimeZone(flags.timezone))
      throw new UsageError(`--timezone ${flags.timezone} is not a known time zone (e.g. UTC, Europe/Paris)`);
    out.push({ type: 'schedule', cron: flags.schedule, ...(flags.timezone ? { timezone: flags.timezone } : {}) });
  } else if (flags.timezone !== undefined) {
    throw new UsageError('--timezone goes with --schedule');
  }
  if (kinds.has('queue')) {
    if (!flags.queue) throw new UsageError('--trigger queue needs --queue NAME (the queue to consume)');
    out.push({ type: 'queue', source: flags.queue });
  }
  if (kinds.has('event')) {
    if (!flags.eventType || !EVENT_TYPE_PATTERN.test(flags.eventType) || flags.eventType.length > 128)
      throw new UsageError('--trigger event needs --event-type, e.g. --event-type ORDER_PLACED or --event-type com.shop.order.placed');
    out.push({ type: 'event', eventType: flags.eventType });
  }
  // The event source's own rules, as the API applies them (a queue name with a space, ...).
  for (const t of out) {
    const problem = sourceProblem(t);
    if (problem) throw new UsageError(`${TRIGGER_FLAG[t.type] ?? '--trigger'}: ${problem}`);
  }
  return out;
}

function kebab(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
