import { spawnSync } from 'child_process';
import { createHash } from 'crypto';
import { chmodSync, copyFileSync, existsSync, readdirSync, readFileSync, renameSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { RuntimeDescriptor } from '../../src/descriptor';
import { runtimeDir } from '../../src/runtimes-dir';
import { buildGo, GO_BINARY, GoBuildOptions } from './build';

/** The prewarmed worker's launcher, built into a shipped copy of this folder (shim/launcher). */
const LAUNCHER = path.join('shim', 'launcher');

/**
 * Go: a package with a handler function (hks.Request/Response, net/http or JSON data), compiled with the SDK and the
 * shim into one static binary at build time. A prewarmed worker is a launcher that execs that binary on LOAD.
 */
export const go: RuntimeDescriptor = {
  name: 'go',
  title: 'Go',
  names: /^go(?:lang)?(?<version>1(?:\.\d+){0,2})?(?:\.x)?$/i,
  aliases: ['go', 'golang', 'go1.19'],
  versions: {
    candidates: (env) => [env.HKS_GO, '/usr/bin/go', 'go'].filter((c): c is string => !!c),
    args: ['env', 'GOVERSION', 'GOROOT'],
    parse: (out) => {
      const m = /^go(\d+\.\d+(?:\.\d+)?)\S*\s*\n(\/\S+)/m.exec(out.trim());
      if (!m) return undefined;
      const version = m[1].split('.').length === 2 ? `${m[1]}.0` : m[1];
      return { version, executable: path.join(m[2], 'bin', 'go') };
    },
    minimum: '1.19.0',
  },
  templates: [{ name: 'go', handlerFile: 'handler.go', moduleFiles: (module) => [`${module}.go`], builtModuleFiles: () => [GO_BINARY] }],
  async build({ dir, source, step, log, tools, interpreter }) {
    const o = { ...(tools.go as GoBuildOptions | undefined), ...(interpreter ? { go: interpreter.realPath } : {}) };
    await buildGo(dir, source.entrypoint, path.join(runtimeDir('go'), 'shim'), log, step, o);
  },
  // The toolchain and where modules may come from decide the binary.
  buildInputs: (_source, tools) => {
    const o = (tools.go ?? {}) as GoBuildOptions;
    return { go: goVersion(o.go), proxy: o.proxy ?? null };
  },
  worker: {
    // Worker: the launcher (it execs the function's binary from /code on LOAD). Image: the binary itself (`interpreter`
    // is HKS_IMAGE_GO_COMMAND, where the binary is in the image).
    command: (interpreter, dir, mode) => (mode === 'worker' ? [path.posix.join(dir, 'shim', 'launcher')] : [interpreter, `--${mode}`]),
    ships: ['shim'],
    prepare: (dest) => buildLauncher(path.join(runtimeDir('go'), 'shim'), path.join(dest, LAUNCHER)),
  },
  image: { baseSetting: 'HKS_BASE_IMAGE_GO', baseExample: 'debian:12-slim', commandSetting: 'HKS_IMAGE_GO_COMMAND', defaultCommand: `/function/${GO_BINARY}` },
  coldStart: { prewarm: true },
  concurrency: 'event-loop',
  sdk: { dir: 'shim', how: 'import "hexabase.io/hks" (the build puts the module beside the function\'s and replaces it there)' },
};

function goVersion(go = '/usr/bin/go'): string | null {
  const r = spawnSync(go, ['env', 'GOVERSION'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * Compiles the launcher (standard library only) into `out`, once per version of its source (kept under the OS temp
 * dir, as the Java shim's jar is): every invoker start and every `hks function test` copies it.
 */
export function buildLauncher(shimDir: string, out: string, go = process.env.HKS_GO || '/usr/bin/go'): void {
  const src = path.join(shimDir, 'internal', 'launcher');
  const hash = createHash('sha256');
  for (const f of readdirSync(src).sort()) hash.update(f).update(readFileSync(path.join(src, f)));
  const cached = path.join(os.tmpdir(), 'hks-go-cache', `launcher-${hash.digest('hex').slice(0, 16)}`);
  if (!existsSync(cached)) {
    if (!existsSync(go)) throw new Error(`the Go runtime's launcher cannot be built: ${go} is missing (install golang-go)`);
    const tmp = `${cached}.${process.pid}`;
    // Default flags (cgo allowed, no -trimpath): the toolchain's precompiled standard library is used, so this takes
    // about a second even on an empty cache; the launcher uses no cgo package, so it is static all the same.
    const r = spawnSync(go, ['build', '-ldflags=-s -w', '-o', tmp, './internal/launcher'], {
      cwd: shimDir,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH,
        HOME: os.tmpdir(),
        GOCACHE: path.join(os.tmpdir(), 'hks-go-cache', 'launcher'),
        GOFLAGS: '-mod=mod',
        GOPROXY: 'off',
        GOTOOLCHAIN: 'local',
      },
    });
    if (r.status !== 0) throw new Error(`the Go runtime's launcher does not build: ${r.stderr || r.error?.message}`);
    renameSync(tmp, cached);
  }
  copyFileSync(cached, out);
  chmodSync(out, 0o755);
}
