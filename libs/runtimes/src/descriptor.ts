import type { ConcurrencyModel } from '@platform/contracts';
import type { BuildLogSink } from './build/errors';
import type { BuildSource } from './build/workspace';

/**
 * A runtime, described once: everything the platform knows about a language lives in its folder
 * (libs/runtimes/runtimes/<name>/: this descriptor, its shim, its SDK, its tests) and is read from there by the
 * API, the CLI, the builder, the invoker, the sandbox and the image builder. See libs/runtimes/RUNTIMES.md.
 */
export interface RuntimeDescriptor {
  /** The folder's name, stored as a function's `family` ("node", "python", "go"). */
  name: string;
  /** The language as people write it ("Node.js"), for messages. */
  title: string;
  /**
   * The runtime names a user may write (`runtime` of a function): anchored, case-insensitive, with an optional
   * named group `version` ("nodejs16" -> "16", "python3.9" -> "3.9", "node" -> none).
   */
  names: RegExp;
  /** Examples of `names`, shown in messages, `GET /api/v1/runtimes` and the OpenAPI document; the first is the plain name. */
  aliases: string[];
  versions: VersionDiscovery;
  /** The templates (ways to write a function) of this runtime; the first is the default. */
  templates: RuntimeTemplate[];
  /**
   * The runtime's build steps, after the platform wrote the user's files into `dir` and checked the entry point's
   * module is there; throws BuildFailure (one clear line) when the code cannot build. Log through `log`.
   */
  build(ctx: BuildContext): Promise<void>;
  /**
   * What besides the source makes this runtime's build come out different (compiler version, package registry,
   * the wheels on offer ...): part of the build cache's key, so a change there builds again.
   */
  buildInputs(source: BuildSource, tools: BuildTools): unknown;
  worker: WorkerLaunch;
  image: ImageRecipe;
  /** How cold starts are made cheap: generic workers started before any function needs them. */
  coldStart: { prewarm: boolean };
  /** How many invocations one worker takes at once when scaling.concurrency is not set (see concurrencyOf). */
  concurrency: ConcurrencyModel;
  /** The function SDK (`hexabase`), as a folder of the runtime's own (relative to it), and how handlers reach it. */
  sdk?: { dir: string; how: string };
  /** Entry points of another form than `module.function` (custom: a command; image: an image reference). Absent: module.function. */
  entrypoint?: EntrypointForm;
}

/** An entry point that is not `module.function` (see entrypointProblem and entryModule in catalog.ts). */
export interface EntrypointForm {
  /** What it is, for messages ("the program to run and its arguments"). */
  describe: string;
  /** Why an entry point is unacceptable, or undefined when it is fine. */
  problem(entrypoint: string): string | undefined;
  /** The module of the entry point (looked up with the template's moduleFiles), or undefined when it needs no file. */
  module(entrypoint: string): string | undefined;
  /** The entry point of files sent without one. */
  default?: string;
}

/** Finds the interpreters (or toolchains) of a runtime installed on this machine. */
export interface VersionDiscovery {
  /**
   * Executables that may be this runtime, the default first: absolute paths, or bare names looked up on PATH.
   * `env` is the process environment (settings such as INVOKER_PYTHON_BIN name the default).
   */
  candidates(env: NodeJS.ProcessEnv): string[];
  /** Arguments that print the version (`--version`). */
  args: string[];
  /**
   * The version "major.minor.patch" in what `args` printed (stdout and stderr together), and the real executable
   * when it says (a pyenv or asdf shim is a script that runs another: the sandbox runs that one), or undefined.
   */
  parse(output: string): { version: string; executable?: string } | undefined;
  /** The oldest version the shim runs on: older interpreters found are not offered. */
  minimum: string;
}

export interface RuntimeTemplate {
  name: string;
  /** Where handler code sent as such (not as files) goes in the bundle. */
  handlerFile: string;
  /** Files that can hold an entry point's module in the user's files, most likely first. */
  moduleFiles(module: string): string[];
  /** The same once built (TypeScript: the .js); the entry point must resolve to one of them. Default: moduleFiles. */
  builtModuleFiles?(module: string): string[];
}

export interface BuildContext {
  dir: string;
  source: BuildSource;
  log: BuildLogSink;
  /** Prints a step title the way every build log does ("==> installing dependencies (npm)"). */
  step(title: string): void;
  /** Build tool settings by runtime name (the builder's HKS_NPM_REGISTRY, HKS_PIP_WHEELHOUSE ... for that runtime). */
  tools: BuildTools;
  /** The interpreter of this machine the function's runtime resolves to (undefined when none is installed here). */
  interpreter?: Interpreter;
}

/** Options of a runtime's build tools, keyed by the runtime's name; each runtime reads only its own entry. */
export type BuildTools = Record<string, Record<string, unknown> | undefined>;

export type ShimMode = 'worker' | 'http' | 'once';

export interface WorkerLaunch {
  /**
   * The command line of the shim: `interpreter` runs it, `dir` is this runtime's folder as the process sees it
   * (/hks/runtimes/<name> in a sandbox, /opt/hks/runtime in an image, the source folder otherwise).
   */
  command(interpreter: string, dir: string, mode: ShimMode): string[];
  /** Variables the runtime needs in its sandbox besides PATH/HOME/TMPDIR/LANG. */
  env?: Record<string, string>;
  /** Folders of this runtime's folder that go into sandboxes and images (the shim, the SDK); the rest stays. */
  ships: string[];
  /**
   * Makes a shipped copy runnable, once per copy (`dest` is <copy>/<name>, holding `ships`): a shim that must be
   * compiled is compiled here (Java's jar, Go's prewarm launcher). Throws when it cannot be (a toolchain is missing).
   */
  prepare?(dest: string): void;
  /** Host folders outside /usr the runtime reads (its configuration), bound read-only into sandboxes at the same path. */
  hostPaths?(interpreter: string): string[];
  /** `image`: the worker's / is the function's own image (unpacked by the invoker), not the host's; never prewarmed. */
  root?: 'image';
}

export interface ImageRecipe {
  /** The builder's setting naming the base image of this runtime's function images (HKS_BASE_IMAGE_NODE). */
  baseSetting: string;
  /** An example base image, for the setting's description and the message when it is missing. */
  baseExample: string;
  /** The builder's setting naming the interpreter inside the base image, and its default. */
  commandSetting: string;
  defaultCommand: string;
  /** The image's entrypoint when it is not the shim's http mode (custom: the program itself, under `functionDir`). */
  entrypoint?(entrypoint: string, functionDir: string): string[];
  /** The function's image is the user's own (pinned by the build): the builder makes none. */
  own?: boolean;
}

/** One interpreter of a runtime found on this machine. */
export interface Interpreter {
  version: string;
  /** The executable as found (a PATH entry, a setting). */
  path: string;
  /** Its real path (pyenv shims and /usr/bin links resolved). */
  realPath: string;
  default: boolean;
}
