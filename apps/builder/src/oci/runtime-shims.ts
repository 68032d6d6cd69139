import { existsSync, statSync } from 'fs';
import * as path from 'path';
import { shimDir, shimEntry } from '@platform/runtimes';

export type Family = 'node' | 'python';

/** Where a family's shim (libs/runtimes/shims/<family>/) goes inside a function image. */
export const SHIM_MOUNT = '/opt/hks/runtime';

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** libs/runtimes/shims found by walking up from here, for when shimDir() cannot tell. */
function shimsFromRepo(): string | undefined {
  let dir = __dirname;
  for (let i = 0; i < 8; i++) {
    const candidate = path.join(dir, 'libs', 'runtimes', 'shims');
    if (isDir(candidate)) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return undefined;
}

/** The directory of one family's shim and its entry script (relative to it). */
export function locateShim(family: Family): { dir: string; script: string } {
  let root: string | undefined;
  try {
    root = shimDir();
  } catch {
    root = shimsFromRepo();
  }
  const script = path.basename(shimEntry(family));
  const dir = root ? path.join(root, family) : undefined;
  if (!dir || !existsSync(path.join(dir, script))) {
    throw new Error(`the ${family} runtime shim (${family}/${script}) was not found${root ? ` in ${root}` : ''}; set HKS_SHIM_DIR`);
  }
  return { dir, script };
}

/** The image entrypoint: the interpreter running the shim in HTTP server mode. */
export function shimServerEntrypoint(family: Family, interpreter: string, script: string): string[] {
  const entry = path.posix.join(SHIM_MOUNT, script);
  // -I: no user site or PYTHON* variables from the image; -B: no .pyc writes into a read-only image.
  return family === 'python' ? [interpreter, '-I', '-B', entry, '--http'] : [interpreter, entry, '--http'];
}

/** Bytecode caches are machine-made and would make the shim layer differ between builders. */
export function isCacheFile(p: string): boolean {
  return p.split('/').includes('__pycache__') || p.endsWith('.pyc');
}
