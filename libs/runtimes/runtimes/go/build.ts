import { existsSync, promises as fs } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { firstMatchingLine, runCommand } from '../../src/build/command';
import { BuildFailure, BuildLogSink } from '../../src/build/errors';

/** Builder settings of the Go runtime (tools.go). */
export interface GoBuildOptions {
  /** The go command (HKS_GO, default /usr/bin/go). */
  go?: string;
  /** A module proxy (HKS_GOPROXY); without one, modules come from vendor/ only (GOPROXY=off). */
  proxy?: string;
  /** Where the build cache and module cache live between builds (HKS_GO_CACHE_DIR); default: under the OS temp dir. */
  cacheDir?: string;
  timeoutMs?: number;
}

/** The SDK's module path: `import "hexabase.io/hks"`. */
export const GO_SDK_MODULE = 'hexabase.io/hks';
/** Inside the bundle: the SDK copy, the generated main package and the binary the worker runs. */
export const GO_SDK_DIR = '.hks/go-sdk';
export const GO_MAIN_DIR = '.hks/main';
export const GO_BINARY = '.hks/function';
/** The function a handler file is expected to define when the entry point says "<file>.*". */
export const GO_DEFAULT_FUNCTION = 'Handle';

const GO_IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** `handler.Handle` -> the package folder of handler.go ("" for the module root) and the function. */
export function goEntrypoint(entrypoint: string): { pkgDir: string; fn: string } {
  const dot = entrypoint.lastIndexOf('.');
  const module = entrypoint.slice(0, dot);
  const fn = entrypoint.slice(dot + 1) === '*' ? GO_DEFAULT_FUNCTION : entrypoint.slice(dot + 1);
  if (!GO_IDENT.test(fn) || fn[0] !== fn[0].toUpperCase() || fn[0] === '_') {
    throw new BuildFailure(`entry point "${entrypoint}": "${fn}" is not an exported Go function name (it must start with a capital letter, e.g. Handle)`);
  }
  const slash = module.lastIndexOf('/');
  return { pkgDir: slash === -1 ? '' : module.slice(0, slash), fn };
}

async function modulePath(dir: string): Promise<string | undefined> {
  try {
    const text = await fs.readFile(path.join(dir, 'go.mod'), 'utf8');
    return /^\s*module\s+("?)([^\s"]+)\1/m.exec(text)?.[2];
  } catch {
    return undefined;
  }
}

function goEnv(o: GoBuildOptions, vendored: boolean): NodeJS.ProcessEnv {
  const cache = o.cacheDir ?? path.join(os.tmpdir(), 'hks-go-cache');
  return {
    PATH: process.env.PATH,
    HOME: cache,
    GOCACHE: path.join(cache, 'build'),
    GOMODCACHE: path.join(cache, 'mod'),
    GOPATH: path.join(cache, 'gopath'),
    GOTOOLCHAIN: 'local',
    GOFLAGS: vendored ? '-mod=vendor' : '-mod=mod',
    GOPROXY: o.proxy || 'off',
    GOSUMDB: 'off',
    GONOSUMDB: '*',
    GOTELEMETRY: 'off',
    // A static binary: the sandbox has no C libraries of its own to offer, and images may be distroless.
    CGO_ENABLED: '0',
  };
}

/** What the compiler said, as one line: the first "file.go:line:col: message", mapped to the user's terms. */
export function goFailure(output: string, fn: string, pkg: string): string {
  const generated = firstMatchingLine(output, [/\.hks\/main\/main\.go:\d+:\d+:/]);
  if (generated && /undefined: fn\./.test(generated))
    return `the package ${pkg} has no function ${fn} (the entry point names it): define func ${fn}(...) in it`;
  if (/is a program, not an importable package/.test(output)) {
    return `the package ${pkg} is "package main": a function is a package of its own (package function, say) with func ${fn}; the platform writes the main package`;
  }
  const lookup = firstMatchingLine(output, [
    /module lookup disabled by GOPROXY=off/,
    /cannot find module providing package/,
    /no required module provides package/,
  ]);
  if (lookup) {
    return `go build failed: ${lookup} (modules come from vendor/ (go mod vendor) or from the module proxy the builder sets with HKS_GOPROXY)`;
  }
  const line = firstMatchingLine(output, [/\.go:\d+:\d+: /, /\.go:\d+: /, /^go: /, /\S/]);
  return `go build failed: ${line ?? 'see the build log'}`;
}

/** What of the SDK's folder goes into a function: not its tests, nor the build's own tool. */
const sdkFile = (src: string) => !src.endsWith('_test.go') && !src.includes(`${path.sep}internal${path.sep}`) && !src.endsWith(`${path.sep}internal`);

/** vendor/modules.txt gets the SDK, as `go mod vendor` would have written it, and vendor/ a copy of it. */
async function vendorSdk(dir: string, sdkDir: string): Promise<void> {
  const target = path.join(dir, 'vendor', ...GO_SDK_MODULE.split('/'));
  await fs.rm(target, { recursive: true, force: true });
  await fs.cp(sdkDir, target, { recursive: true, filter: (src) => sdkFile(src) && !src.endsWith('go.mod') });
  const list = path.join(dir, 'vendor', 'modules.txt');
  const text = (await fs.readFile(list, 'utf8')).split('\n');
  // Drop what an earlier copy of the SDK wrote there (a user who vendored it themselves).
  const kept: string[] = [];
  for (let i = 0, skipping = false; i < text.length; i++) {
    if (text[i].startsWith('# ')) skipping = text[i].startsWith(`# ${GO_SDK_MODULE} `);
    if (!skipping && text[i] !== '') kept.push(text[i]);
  }
  kept.push(`# ${GO_SDK_MODULE} v0.0.0 => ./${GO_SDK_DIR}`, '## explicit; go 1.19', GO_SDK_MODULE, `# ${GO_SDK_MODULE} => ./${GO_SDK_DIR}`);
  await fs.writeFile(list, kept.join('\n') + '\n');
}

/**
 * Builds a Go function into one static binary (.hks/function): the SDK and shim (package hks) beside the user's
 * module, a generated main package calling hks.Start(<package>.<Func>), `go build`, then the binary itself checks the
 * handler's signature. Modules come from vendor/ (GOFLAGS=-mod=vendor) or the proxy of the settings, never from the
 * network otherwise; the build cache stays in cacheDir between builds.
 */
export async function buildGo(
  dir: string,
  entrypoint: string,
  sdkDir: string,
  log: BuildLogSink,
  step: (title: string) => void,
  o: GoBuildOptions = {},
): Promise<void> {
  const go = o.go ?? '/usr/bin/go';
  if (!existsSync(go) && !o.go) throw new BuildFailure('the builder has no Go toolchain (/usr/bin/go is missing): install golang-go, or set HKS_GO');
  const { pkgDir, fn } = goEntrypoint(entrypoint);
  let mod = await modulePath(dir);
  if (!mod) {
    mod = 'function';
    await fs.writeFile(path.join(dir, 'go.mod'), `module ${mod}\n\ngo 1.19\n`);
    log(`no go.mod: wrote one (module ${mod})\n`);
  }
  const importPath = pkgDir ? `${mod}/${pkgDir}` : mod;
  await fs.rm(path.join(dir, GO_SDK_DIR), { recursive: true, force: true });
  await fs.cp(sdkDir, path.join(dir, GO_SDK_DIR), { recursive: true, filter: sdkFile });
  await fs.mkdir(path.join(dir, GO_MAIN_DIR), { recursive: true });
  await fs.writeFile(
    path.join(dir, GO_MAIN_DIR, 'main.go'),
    `// Written by the platform's build: the function's binary runs the shim with the handler.\npackage main\n\nimport (\n\tfn "${importPath}"\n\t"${GO_SDK_MODULE}"\n)\n\nfunc main() { hks.Start(fn.${fn}) }\n`,
  );
  const vendored = existsSync(path.join(dir, 'vendor', 'modules.txt'));
  const env = goEnv(o, vendored);
  const run = (args: string[]) => runCommand(go, args, { cwd: dir, env, log, timeoutMs: o.timeoutMs });
  let r = await run(['mod', 'edit', `-require=${GO_SDK_MODULE}@v0.0.0`, `-replace=${GO_SDK_MODULE}=./${GO_SDK_DIR}`]);
  if (r.code !== 0) throw new BuildFailure(`go.mod cannot be read: ${firstMatchingLine(r.output, [/\S/]) ?? 'see the build log'}`);
  if (vendored) {
    log('modules from vendor/ (GOFLAGS=-mod=vendor)\n');
    await vendorSdk(dir, sdkDir);
  } else {
    log(o.proxy ? `modules from ${o.proxy}\n` : 'no vendor/ and no module proxy (HKS_GOPROXY): the standard library and the SDK only\n');
  }
  step('checking the handler');
  // From the source alone (go/parser): none of the function's code runs on the builder.
  r = await runCommand(go, ['run', path.join(sdkDir, 'internal', 'handlercheck', 'main.go'), `./${pkgDir}`, fn], {
    cwd: dir,
    // Default flags: the toolchain's precompiled standard library (this is a tool of the build, not the function).
    env: { ...env, GOFLAGS: '', CGO_ENABLED: undefined },
    log,
    timeoutMs: o.timeoutMs,
    display: `handlercheck ${pkgDir || '.'} ${fn}`,
  });
  // Exit status 3: the files do not parse; the compiler says where (go run itself exits 1 and says the status).
  if (r.code !== 0 && !/exit status 3/.test(r.output))
    throw new BuildFailure(firstMatchingLine(r.output, [/\S/]) ?? `${importPath}.${fn} is not a handler the runtime can call`);
  step('compiling (go build)');
  r = await run(['build', '-trimpath', '-buildvcs=false', '-ldflags=-s -w', '-o', GO_BINARY, `./${GO_MAIN_DIR}`]);
  if (r.code !== 0) throw new BuildFailure(goFailure(r.output, fn, importPath));
  log(`built ${GO_BINARY}: ${importPath}.${fn}\n`);
}
