import * as path from 'path';
import type { RuntimeFamily } from '@platform/contracts';
import { shimDir, shimEntry } from '@platform/runtimes';

/** Where a family's shim (libs/runtimes/shims/<family>/) goes inside a function image. */
export const SHIM_MOUNT = '/opt/hks/runtime';

/**
 * The directory of one family's shim and its entry script (relative to it). shimDir() finds the shims
 * in the source and dist layouts (or says to set HKS_SHIM_DIR) and checks both entry scripts are there.
 */
export function locateShim(family: RuntimeFamily): { dir: string; script: string } {
  const entry = shimEntry(family);
  return { dir: path.join(shimDir(), path.dirname(entry)), script: path.basename(entry) };
}

/** The image entrypoint: the interpreter running the shim in HTTP server mode. */
export function shimServerEntrypoint(family: RuntimeFamily, interpreter: string, script: string): string[] {
  const entry = path.posix.join(SHIM_MOUNT, script);
  // -I: no user site or PYTHON* variables from the image; -B: no .pyc writes into a read-only image.
  return family === 'python' ? [interpreter, '-I', '-B', entry, '--http'] : [interpreter, entry, '--http'];
}

/** Bytecode caches are machine-made and would make the shim layer differ between builders. */
export function isCacheFile(p: string): boolean {
  return p.split('/').includes('__pycache__') || p.endsWith('.pyc');
}
