import { existsSync, readdirSync } from 'fs';
import { Worker } from 'worker_threads';
import * as path from 'path';
import type * as TS from 'typescript';
import { BuildFailure, BuildLogSink } from './errors';

/**
 * The compiler, loaded on the first compile: @platform/runtimes is also imported by the invoker and
 * the CLI, which must not pay for loading TypeScript (megabytes of JavaScript) at start-up.
 */
let compiler: typeof TS | undefined;
function typescript(): typeof TS {
  compiler ??= require('typescript') as typeof TS;
  return compiler;
}

const SOURCE = /\.(ts|tsx|mts|cts)$/;
const SKIP_DIRS = new Set(['node_modules', '.hks', '.deps', '.git']);

function listSources(dir: string, rel = ''): string[] {
  const out: string[] = [];
  for (const item of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
    const relPath = rel ? `${rel}/${item.name}` : item.name;
    if (item.isDirectory()) {
      if (!SKIP_DIRS.has(item.name)) out.push(...listSources(dir, relPath));
    } else if (SOURCE.test(item.name) && !/\.d\.(ts|mts|cts)$/.test(item.name)) {
      out.push(path.join(dir, relPath));
    }
  }
  return out.sort();
}

/**
 * Node's type definitions, so handlers may use `process`, `Buffer` or `require` without shipping
 * @types/node: the function's own copy when it has one, else the platform's, else none.
 */
function nodeTypes(dir: string): Pick<TS.CompilerOptions, 'types' | 'typeRoots'> {
  if (existsSync(path.join(dir, 'node_modules', '@types', 'node'))) return {};
  try {
    const typesDir = path.dirname(require.resolve('@types/node/package.json'));
    return { types: ['node'], typeRoots: [path.dirname(typesDir)] };
  } catch {
    return { types: [] };
  }
}

function defaults(ts: typeof TS): TS.CompilerOptions {
  return {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.CommonJS,
    moduleResolution: ts.ModuleResolutionKind.Node10,
    lib: ['lib.es2022.d.ts'],
    strict: false,
    esModuleInterop: true,
    skipLibCheck: true,
    resolveJsonModule: true,
  };
}

function format(diagnostics: readonly TS.Diagnostic[], dir: string): string {
  return typescript().formatDiagnostics(diagnostics, {
    getCanonicalFileName: (f) => f,
    getCurrentDirectory: () => dir,
    getNewLine: () => '\n',
  });
}

/** Options and files: the user's tsconfig.json when there is one, else the platform defaults. */
function configure(ts: typeof TS, dir: string, log: BuildLogSink): { options: TS.CompilerOptions; fileNames: string[] } {
  const DEFAULTS = defaults(ts);
  const configPath = path.join(dir, 'tsconfig.json');
  if (!existsSync(configPath)) return { options: { ...DEFAULTS, ...nodeTypes(dir) }, fileNames: listSources(dir) };
  log("using the function's tsconfig.json\n");
  const read = ts.readConfigFile(configPath, ts.sys.readFile);
  if (read.error) throw new BuildFailure(format([read.error], dir).trim());
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, dir, { target: DEFAULTS.target }, configPath);
  const errors = parsed.errors.filter((e) => e.code !== 18003); // "no inputs found" is reported below, more plainly
  if (errors.length) throw new BuildFailure(format(errors, dir).split('\n')[0]);
  const options: TS.CompilerOptions = { ...parsed.options };
  const nodeModules = [ts.ModuleKind.Node16, ts.ModuleKind.NodeNext, ts.ModuleKind.CommonJS];
  if (options.module === undefined || !nodeModules.includes(options.module)) {
    // The runtime shim loads handlers with require(): anything but CommonJS output would not load.
    options.module = ts.ModuleKind.CommonJS;
    options.moduleResolution = ts.ModuleResolutionKind.Node10;
  }
  if (!options.types && !options.typeRoots) Object.assign(options, nodeTypes(dir));
  return { options, fileNames: parsed.fileNames };
}

/**
 * Compiles the function's TypeScript to .js next to the sources (where the runtime finds the entry
 * point). Type errors are written to the log as file(line,col): error TSxxxx and fail the build.
 */
export function compileTypeScript(dir: string, log: BuildLogSink): number {
  const ts = typescript();
  const { options, fileNames } = configure(ts, dir, log);
  if (!fileNames.length) throw new BuildFailure('the typescript template needs at least one .ts file');
  // Emit beside the sources whatever the tsconfig says, so the bundle layout stays the one the runtime expects.
  const emitOptions: TS.CompilerOptions = {
    ...options,
    noEmit: false,
    noEmitOnError: true,
    outDir: undefined,
    outFile: undefined,
    declaration: false,
    declarationMap: false,
    emitDeclarationOnly: false,
    composite: false,
    incremental: false,
    tsBuildInfoFile: undefined,
  };
  log(`tsc: compiling ${fileNames.length} file(s) (TypeScript ${ts.version})\n`);
  const program = ts.createProgram({ rootNames: fileNames, options: emitOptions });
  const diagnostics = ts.getPreEmitDiagnostics(program);
  const errors = diagnostics.filter((d) => d.category === ts.DiagnosticCategory.Error);
  if (diagnostics.length) log(format(diagnostics, dir));
  if (errors.length) throw new BuildFailure(format([errors[0]], dir).trim().split('\n')[0]);
  const emitted = program.emit();
  if (emitted.emitSkipped) {
    const why = emitted.diagnostics.length ? format(emitted.diagnostics, dir).trim().split('\n')[0] : 'the compiler emitted nothing';
    throw new BuildFailure(`tsc: ${why}`);
  }
  return fileNames.length;
}

/** What runs in the compiler's thread: compileTypeScript of this very module, its log lines posted back as they come. */
const THREAD_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const { compileTypeScript } = require(workerData.module);
try {
  const files = compileTypeScript(workerData.dir, (text) => parentPort.postMessage({ log: text }));
  parentPort.postMessage({ done: files });
} catch (err) {
  parentPort.postMessage({ failed: { message: String(err && err.message), buildFailure: Boolean(err && err.name === 'BuildFailure') } });
}`;

type ThreadMessage = { log: string } | { done: number } | { failed: { message: string; buildFailure: boolean } };

/**
 * compileTypeScript in a worker thread: the compiler works synchronously for seconds, and the builder may share its
 * event loop with the other services (the one-process platform), whose invocations must not wait for a build. The
 * compiler is loaded in that thread and freed with it. From TypeScript sources (the unit tests) it runs in this thread.
 */
export function compileTypeScriptInThread(dir: string, log: BuildLogSink): Promise<number> {
  if (!__filename.endsWith('.js')) return Promise.resolve().then(() => compileTypeScript(dir, log));
  return new Promise((resolve, reject) => {
    let settled = false;
    const worker = new Worker(THREAD_SOURCE, { eval: true, workerData: { module: __filename, dir } });
    worker.on('message', (m: ThreadMessage) => {
      if ('log' in m) return log(m.log);
      settled = true;
      if ('done' in m) resolve(m.done);
      else reject(m.failed.buildFailure ? new BuildFailure(m.failed.message) : new Error(m.failed.message));
    });
    worker.on('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.on('exit', (code) => {
      if (!settled) reject(new Error(`the TypeScript compiler's thread ended (exit code ${code}) without a result`));
    });
  });
}
