import { spawnSync } from 'child_process';
import { chmodSync, cpSync, existsSync, mkdtempSync, readdirSync, realpathSync, statSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { effectiveConfig, ENTRYPOINT_PATTERN, splitEntrypoint, ValidationError } from '@platform/contracts';
import type { EffectiveConfig, FunctionConfigDto, ResolvedRuntime, RuntimeView } from '@platform/contracts';
import { allTemplates, matchRuntime, RUNTIMES, runtimeNames, templateRuntime } from './names';
import type { Interpreter, RuntimeDescriptor, RuntimeTemplate } from './descriptor';
import { runtimesDir } from './runtimes-dir';

export { runtimeDir, runtimesDir } from './runtimes-dir';

export { allTemplates, findTemplate, matchRuntime, RUNTIMES, runtimeFamily, runtimeNames, templateRuntime } from './names';

/**
 * Copies what each runtime ships (shim, SDK) to `dest/<name>/`, without bytecode caches, readable by anyone: a
 * sandbox running as an unprivileged uid may not reach them where the platform is installed (under /root, say).
 */
export function copyRuntimes(dest: string): void {
  const root = runtimesDir();
  for (const r of RUNTIMES) {
    for (const part of r.worker.ships) {
      cpSync(path.join(root, r.name, part), path.join(dest, r.name, part), { recursive: true, filter: (src) => !src.includes('__pycache__') });
    }
    r.worker.prepare?.(path.join(dest, r.name));
  }
  makeReadable(dest);
}

const shipped = new Map<string, string>();

/**
 * One runtime's shipped folder, prepared (what an image gets): a copy of its `ships` after `prepare`, made once per
 * process under the OS temp dir; the source folder itself when the runtime has nothing to prepare.
 */
export function shippedRuntimeDir(name: string): string {
  const r = runtimeDescriptor(name);
  if (!r.worker.prepare) return path.join(runtimesDir(), name);
  let dir = shipped.get(name);
  if (!dir) {
    dir = path.join(mkdtempSync(path.join(os.tmpdir(), `hks-runtime-${name}-`)), name);
    for (const part of r.worker.ships) cpSync(path.join(runtimesDir(), name, part), path.join(dir, part), { recursive: true });
    r.worker.prepare(dir);
    shipped.set(name, dir);
  }
  return dir;
}

function makeReadable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) makeReadable(full);
    // What prepare() compiled (Go's launcher) stays executable.
    else chmodSync(full, statSync(full).mode & 0o111 ? 0o755 : 0o644);
  }
}

/** The descriptor of a stored family; throws when no runtime has that name (a row written by a newer version). */
export function runtimeDescriptor(family: string): RuntimeDescriptor {
  const found = RUNTIMES.find((r) => r.name === family);
  if (!found) throw new ValidationError(`no runtime is named "${family}"; the platform runs ${RUNTIMES.map((r) => r.name).join(', ')}`);
  return found;
}

/** A template of a runtime: the named one, or the runtime's default. Throws for a template of another runtime. */
export function templateOf(family: string, template?: string | null, runtime?: string): RuntimeTemplate {
  const d = runtimeDescriptor(family);
  if (!template) return d.templates[0];
  const found = d.templates.find((t) => t.name === template);
  if (!found) {
    const owner = templateRuntime(template);
    throw new ValidationError(
      owner
        ? `template "${template}" runs on ${owner}, but ${runtime ? `runtime "${runtime}"` : 'the runtime'} is ${family}; use a ${owner} runtime or the ${d.templates[0].name} template`
        : `template "${template}" does not exist; the templates are ${allTemplates()
            .map((t) => t.name)
            .join(', ')}`,
    );
  }
  return found;
}

// ---- versions -----------------------------------------------------------------------------------------------

const found = new Map<string, Interpreter[]>();

/** Versions compared part by part ("3.9" < "3.10"); missing parts count as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Whether `version` ("3.9.18") is what `asked` ("3", "3.9", "3.9.18") names. */
function versionMatches(version: string, asked: string): boolean {
  return version === asked || version.startsWith(`${asked}.`);
}

function realPathOf(file: string): string | undefined {
  try {
    return realpathSync(file);
  } catch {
    return undefined;
  }
}

function onPath(name: string, env: NodeJS.ProcessEnv): string | undefined {
  if (name.includes('/')) return existsSync(name) ? name : undefined;
  for (const dir of (env.PATH ?? '').split(':').filter(Boolean)) {
    const full = path.join(dir, name);
    if (existsSync(full)) return full;
  }
  return undefined;
}

/** Runs one executable with the runtime's version arguments: its version and real path, or undefined when it is none. */
export function probeInterpreter(d: RuntimeDescriptor, candidate: string, env: NodeJS.ProcessEnv = process.env): Omit<Interpreter, 'default'> | undefined {
  const file = onPath(candidate, env);
  if (!file) return undefined;
  const r = spawnSync(file, d.versions.args, { encoding: 'utf8', timeout: 5000, env: { PATH: env.PATH ?? '/usr/bin:/bin', HOME: env.HOME ?? '/' } });
  if (r.status !== 0) return undefined;
  const parsed = d.versions.parse(`${r.stdout}${r.stderr}`);
  if (!parsed || compareVersions(parsed.version, d.versions.minimum) < 0) return undefined;
  try {
    return { version: parsed.version, path: parsed.executable ?? file, realPath: realpathSync(parsed.executable ?? file) };
  } catch {
    return undefined;
  }
}

/**
 * The interpreters of a runtime installed on this machine, the default first (the first candidate that runs), the
 * others newest first; one per real executable. Each candidate runs once (`--version`), then the answer is kept.
 */
export function interpreters(d: RuntimeDescriptor, env: NodeJS.ProcessEnv = process.env): Interpreter[] {
  const cached = found.get(d.name);
  if (cached) return cached;
  const seen = new Map<string, Interpreter>();
  const tried = new Set<string>();
  for (const candidate of d.versions.candidates(env)) {
    // The same executable under another name (node, nodejs, process.execPath) runs once.
    const file = onPath(candidate, env);
    const real = file && realPathOf(file);
    if (!real || tried.has(real)) continue;
    tried.add(real);
    const probed = probeInterpreter(d, file, env);
    if (probed && !seen.has(probed.realPath)) seen.set(probed.realPath, { ...probed, default: seen.size === 0 });
  }
  const [first, ...rest] = [...seen.values()];
  const sorted = first ? [first, ...rest.sort((a, b) => compareVersions(b.version, a.version))] : [];
  found.set(d.name, sorted);
  return sorted;
}

/** Forgets the interpreters found (tests that change the environment). */
export function forgetInterpreters(): void {
  found.clear();
}

/** Versions installed, newest first, each once. */
function versionList(list: Interpreter[]): string[] {
  return [...new Set(list.map((i) => i.version))].sort((a, b) => compareVersions(b, a));
}

/**
 * What a runtime name runs on here: the exact version asked for when it is installed, the newest patch of the
 * minor asked for, else the nearest newer version with a warning saying so. Throws a ValidationError (a 400)
 * naming what there is when the name is no runtime, nothing of the runtime is installed, or only older versions.
 */
export function resolveRuntime(runtime: string, env: NodeJS.ProcessEnv = process.env): { resolved: ResolvedRuntime; interpreter: Interpreter } {
  const m = matchRuntime(runtime);
  if (!m)
    throw new ValidationError(
      `runtime "${runtime}" is not supported; the platform runs ${runtimeNames()} (GET /api/v1/runtimes lists them with their versions)`,
    );
  const d = m.descriptor;
  const list = interpreters(d, env);
  if (!list.length)
    throw new ValidationError(`runtime "${runtime}" is ${d.title}, but no ${d.title} ${d.versions.minimum} or newer is installed on this platform`);
  const on = (interpreter: Interpreter, warning?: string) => ({
    resolved: { language: d.name, requested: runtime, version: interpreter.version, ...(warning ? { warning } : {}) },
    interpreter,
  });
  const asked = m.version;
  if (!asked || versionMatches(list[0].version, asked)) return on(list[0]);
  const same = list.filter((i) => versionMatches(i.version, asked)).sort((a, b) => compareVersions(b.version, a.version))[0];
  if (same) return on(same);
  const newer = list.filter((i) => compareVersions(i.version, asked) > 0).sort((a, b) => compareVersions(a.version, b.version))[0];
  if (!newer) {
    throw new ValidationError(
      `runtime "${runtime}" asks for ${d.title} ${asked}, which is newer than any installed here; available: ${versionList(list).join(', ')}`,
    );
  }
  return on(newer, `${d.title} ${asked} is not installed here: "${runtime}" runs on ${d.title} ${newer.version}, the nearest newer version`);
}

/** The interpreter of an exact version (the one a function was resolved to), or the resolution of `runtime` here. */
export function interpreterFor(family: string, version: string | undefined, runtime: string): Interpreter | undefined {
  const list = interpreters(runtimeDescriptor(family));
  if (version) {
    const exact = list.find((i) => i.version === version);
    if (exact) return exact;
  }
  try {
    return resolveRuntime(runtime).interpreter;
  } catch {
    return undefined;
  }
}

/** What `GET /api/v1/runtimes` lists. */
export function describeRuntimes(): RuntimeView[] {
  return RUNTIMES.map((d) => {
    const list = interpreters(d);
    return {
      name: d.name,
      title: d.title,
      aliases: d.aliases,
      defaultVersion: list[0]?.version ?? null,
      versions: versionList(list).map((version) => ({ version, executables: list.filter((i) => i.version === version).map((i) => i.path) })),
      minimumVersion: d.versions.minimum,
      templates: d.templates.map((t) => t.name),
      defaultTemplate: d.templates[0].name,
      defaultHandlerFile: d.templates[0].handlerFile,
      concurrency: d.concurrency,
      prewarm: d.coldStart.prewarm,
      sdk: d.sdk?.how ?? null,
    };
  });
}

/** A function's configuration with the defaults filled in, those of its runtime included (its concurrency model). */
export function effectiveConfigOf(config: FunctionConfigDto | undefined | null, family: string): EffectiveConfig {
  return effectiveConfig(config, runtimeDescriptor(family).concurrency);
}

/** Why an entry point does not fit its runtime (module.function unless the descriptor says otherwise), or undefined. */
export function entrypointProblem(family: string, entrypoint: string): string | undefined {
  const form = runtimeDescriptor(family).entrypoint;
  if (form) {
    const problem = form.problem(entrypoint);
    return problem === undefined ? undefined : `the entry point of a ${family} function is ${form.describe}: ${problem}`;
  }
  return ENTRYPOINT_PATTERN.test(entrypoint) ? undefined : 'the entry point must look like "<module>.<function>", e.g. "handler.handle" or "handler.*"';
}

/** The module an entry point needs among the files (found with the template's moduleFiles), or undefined when it needs none. */
export function entryModule(family: string, entrypoint: string): string | undefined {
  const form = runtimeDescriptor(family).entrypoint;
  return form ? form.module(entrypoint) : splitEntrypoint(entrypoint).module;
}
