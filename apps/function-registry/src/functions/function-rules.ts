import type { QueryDeepPartialEntity } from 'typeorm';
import {
  AUTO_ENTRYPOINT,
  DEFAULT_ENTRY_MODULES,
  ENTRYPOINT_PATTERN,
  filePathProblem,
  FunctionConfigDto,
  knativeConfigProblems,
  labelProblem,
  RuntimeFamily,
  TemplateName,
  ValidationError,
} from '@platform/contracts';
import { entryModule, entrypointProblem, resolveRuntime, RUNTIMES, runtimeDescriptor, runtimeFamily, templateOf, templateRuntime } from '@platform/runtimes';

export const MAX_FILES = 1000;
export const MAX_FILES_BYTES = 8 * 1024 * 1024;

/** What the user sent about the code, before the rules are applied. */
export interface SourceInput {
  template?: TemplateName | null;
  runtime?: string;
  handler?: string | null;
  files?: Record<string, string> | null;
  /** A user's own OCI image instead of code (the image runtime: its entry point is the reference). */
  image?: string | null;
}

/** The code of a function once the rules are applied: what is stored and versioned. */
export interface FunctionSource {
  template: TemplateName;
  runtime: string;
  family: RuntimeFamily;
  handler: string | null;
  files: Record<string, string> | null;
  entrypoint: string;
}

/** A label a function is given (created with, or renamed to): LABEL_PATTERN and no reserved word. */
export function checkLabel(label: string): void {
  const problem = labelProblem(label);
  if (problem) throw new ValidationError(problem);
}

/**
 * The cross-field rules of a config, and what Knative's webhook would refuse (reserved env names, minInstances above
 * maxInstances): refused at create or update on every target, so a function that runs locally also deploys to a cluster.
 */
export function checkConfig(config: FunctionConfigDto | null | undefined): void {
  const problems = knativeConfigProblems(config);
  if (problems.length) throw new ValidationError(problems.join('; '), problems);
}

/** Stored source + an update's changes -> the input of the rules; undefined keeps a field, null clears it. */
export function mergeUpdate(
  stored: Pick<FunctionSource, 'template' | 'runtime' | 'handler' | 'files'>,
  c: { template?: TemplateName | null; runtime?: string | null; handler?: string | null; files?: Record<string, string> | null },
): SourceInput {
  const runtime = c.runtime ?? stored.runtime;
  // Without a template, keep the stored one while it fits the runtime's family; otherwise the family's default.
  const family = runtimeFamily(runtime);
  const template = c.template ?? (family && templateRuntime(stored.template) === family ? stored.template : null);
  const files = c.files !== undefined ? c.files : stored.files;
  let handler = c.handler !== undefined ? c.handler : stored.handler;
  if (c.handler === undefined && (stored.files === null) !== (files === null)) {
    // Switching between code and files: stored handler code is no entry point, and an entry point is no code.
    handler = null;
  }
  return { runtime, template, handler, files };
}

/** Applies the cross-field rules: runtime/template agreement, handler or files, entry point and its module file. */
export function resolveSource(input: SourceInput): FunctionSource {
  if (input.image !== undefined && input.image !== null) return imageSource(input);
  if (input.runtime === undefined) throw new ValidationError('runtime is required (or image, for a function that is your own OCI image)');
  // An unknown runtime, or one not installed in the version asked or newer, is a 400 naming what there is.
  // (What it resolves to is not stored: every view resolves it again against the runtimes installed.)
  const family = resolveRuntime(input.runtime).resolved.language;
  const template = templateOf(family, input.template, input.runtime).name;
  const handler = input.handler ?? null;
  const files = input.files ?? null;
  // A stored image function (its reference is its entry point), updated without a new image.
  if (runtimeDescriptor(family).image.own && files === null && handler !== null) return imageSource({ ...input, image: handler, handler: null });
  if (handler === null && files === null) {
    throw new ValidationError(
      'send the code: "handler" with the handler source, or "files" (path -> content) with "handler" naming the entry point as module.function',
    );
  }
  if (files === null) {
    if (handler!.trim() === '') throw new ValidationError('handler is empty; send the handler source code');
    return { template, runtime: input.runtime, family, handler, files: null, entrypoint: AUTO_ENTRYPOINT };
  }
  checkFiles(files);
  const entrypoint = handler === null ? defaultEntrypoint(files, family, template) : checkEntrypoint(handler, files, family, template);
  return { template, runtime: input.runtime, family, handler, files, entrypoint };
}

function checkFiles(files: Record<string, string>): void {
  if (typeof files !== 'object' || Array.isArray(files)) throw new ValidationError('files must be an object of path -> content');
  const entries = Object.entries(files);
  if (entries.length === 0) throw new ValidationError('files is empty; send at least the file holding the handler');
  if (entries.length > MAX_FILES) throw new ValidationError(`files has ${entries.length} entries; at most ${MAX_FILES} are accepted`);
  let bytes = 0;
  for (const [path, content] of entries) {
    const problem = filePathProblem(path);
    if (problem) throw new ValidationError(`files: ${problem}`);
    if (typeof content !== 'string') throw new ValidationError(`files["${path}"] must be a string (UTF-8 text, or "base64:" followed by base64)`);
    if (content.startsWith('base64:') && !/^[A-Za-z0-9+/\r\n]*={0,2}\s*$/.test(content.slice(7))) {
      throw new ValidationError(`files["${path}"] starts with "base64:" but the rest is not valid base64`);
    }
    bytes += Buffer.byteLength(content, 'utf8');
  }
  if (bytes > MAX_FILES_BYTES) {
    throw new ValidationError(`files add up to ${bytes} bytes; at most ${MAX_FILES_BYTES} bytes are accepted`);
  }
}

function checkEntrypoint(handler: string, files: Record<string, string>, family: RuntimeFamily, template: TemplateName): string {
  const entry = handler.trim();
  const form = runtimeDescriptor(family).entrypoint;
  if (form) {
    const problem = entrypointProblem(family, entry);
    if (problem) throw new ValidationError(problem);
  } else if (!ENTRYPOINT_PATTERN.test(entry)) {
    const shown = entry.length > 40 ? `${entry.slice(0, 40)}...` : entry;
    throw new ValidationError(
      `with files, handler is the entry point as module.function (e.g. "function.handle", or "function.*" to detect it), not code; got "${shown}"`,
    );
  }
  const module = entryModule(family, entry);
  if (module === undefined) return entry;
  const candidates = templateOf(family, template).moduleFiles(module);
  if (!candidates.some((c) => c in files)) {
    throw new ValidationError(`entry point "${entry}" needs the file ${candidates[0]} in files, but files has ${listNames(files)}`);
  }
  return entry;
}

function defaultEntrypoint(files: Record<string, string>, family: RuntimeFamily, template: TemplateName): string {
  const t = templateOf(family, template);
  const own = runtimeDescriptor(family).entrypoint?.default;
  if (own) return checkEntrypoint(own, files, family, template);
  for (const module of DEFAULT_ENTRY_MODULES) {
    if (t.moduleFiles(module).some((c) => c in files)) return `${module}.*`;
  }
  throw new ValidationError(
    `files has no ${DEFAULT_ENTRY_MODULES.map((m) => t.moduleFiles(m)[0]).join(', ')}; ` +
      'set handler to the entry point as module.function, e.g. "function.handle"',
  );
}

function listNames(files: Record<string, string>): string {
  const names = Object.keys(files);
  return names.length <= 5 ? names.join(', ') : `${names.slice(0, 5).join(', ')} and ${names.length - 5} more`;
}

/** The files a build starts from: the user's files, or the handler code placed in its default file. */
export function buildFiles(source: Pick<FunctionSource, 'family' | 'template' | 'handler' | 'files'>): Record<string, string> {
  if (source.files) return { ...source.files };
  // An image function has no files: its image is its code.
  if (runtimeDescriptor(source.family).image.own) return {};
  return { [templateOf(source.family, source.template).handlerFile]: source.handler ?? '' };
}

/** Key order does not matter for jsonb: compare values structurally. */
export function sameJson(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a ?? null)) === JSON.stringify(canonical(b ?? null));
}

function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v as Record<string, unknown>)
        .filter(([, x]) => x !== undefined)
        .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
        .map(([k, x]) => [k, canonical(x)]),
    );
  }
  return v;
}

/** Drops class prototypes and undefined fields so a config is stored exactly as its JSON. */
export function plainConfig(config: FunctionConfigDto | null | undefined): FunctionConfigDto {
  return JSON.parse(JSON.stringify(config ?? {})) as FunctionConfigDto;
}

/** TypeORM's deep-partial type cannot follow the trigger union inside jsonb config; the row shape is ours. */
export function row<T>(values: Partial<T>): QueryDeepPartialEntity<T> {
  return values as QueryDeepPartialEntity<T>;
}

/** The runtime whose functions are the user's own OCI image (its descriptor says image.own). */
function imageRuntime(): string {
  const found = RUNTIMES.find((r) => r.image.own);
  if (!found) throw new ValidationError('this platform runs no OCI images of your own (no runtime takes an image)');
  return found.name;
}

/** `image` instead of code: the image runtime, the reference as its entry point; no handler or files beside it. */
function imageSource(input: SourceInput): FunctionSource {
  const family = imageRuntime();
  if ((input.handler !== undefined && input.handler !== null) || (input.files !== undefined && input.files !== null)) {
    throw new ValidationError('image replaces the code: send either image, or handler/files, not both');
  }
  if (input.runtime !== undefined && runtimeFamily(input.runtime) !== family) {
    throw new ValidationError(`with image, runtime is "${family}" (or left out), not "${input.runtime}"`);
  }
  const reference = String(input.image).trim();
  const problem = entrypointProblem(family, reference);
  if (problem) throw new ValidationError(`image: ${problem}`);
  resolveRuntime(family);
  return { template: templateOf(family).name, runtime: input.runtime ?? family, family, handler: reference, files: null, entrypoint: reference };
}
