import * as path from 'path';
import type { RuntimeFamily } from '@platform/contracts';
import { runtimeDescriptor, runtimeDir } from '@platform/runtimes';

/** Where a runtime's folder (what it ships: libs/runtimes/runtimes/<name>/shim, sdk ...) goes inside a function image. */
export const SHIM_MOUNT = '/opt/hks/runtime';

/** The host folders of what a runtime ships into its images, each with the path it gets under SHIM_MOUNT. */
export function locateShim(family: RuntimeFamily): Array<{ dir: string; at: string }> {
  const d = runtimeDescriptor(family);
  return d.worker.ships.map((part) => ({ dir: path.join(runtimeDir(d.name), part), at: path.posix.join(SHIM_MOUNT, part) }));
}

/** The image entrypoint: the interpreter running the shim in HTTP server mode (the descriptor's command). */
export function shimServerEntrypoint(family: RuntimeFamily, interpreter: string): string[] {
  return runtimeDescriptor(family).worker.command(interpreter, SHIM_MOUNT, 'http');
}

/** Bytecode caches are machine-made and would make the shim layer differ between builders. */
export function isCacheFile(p: string): boolean {
  return p.split('/').includes('__pycache__') || p.endsWith('.pyc');
}
