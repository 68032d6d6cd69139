import { existsSync } from 'fs';
import * as path from 'path';

/** In the runtimes folder of the source tree (not in dist/, which has only the compiled descriptors). */
const MARKER = 'PROTOCOL.md';

/**
 * The runtime folders hold plain JS and Python (the shims, the SDKs) that dist/ does not, so they are read from
 * the source tree: beside this file (source), from dist/ back to the repository, under HKS_APP_ROOT (the platform
 * image), or where HKS_RUNTIMES_DIR says.
 */
export function runtimesDir(): string {
  const candidates = [
    process.env.HKS_RUNTIMES_DIR,
    path.resolve(__dirname, '..', 'runtimes'),
    path.resolve(__dirname, '..', '..', '..', '..', 'libs', 'runtimes', 'runtimes'),
    process.env.HKS_APP_ROOT ? path.join(process.env.HKS_APP_ROOT, 'libs', 'runtimes', 'runtimes') : undefined,
  ];
  for (const dir of candidates) {
    if (dir && existsSync(path.join(dir, MARKER))) return dir;
  }
  throw new Error(`runtime folders not found (looked in ${candidates.filter(Boolean).join(', ')}); set HKS_RUNTIMES_DIR`);
}

/** The folder of one runtime (its shim, its SDK). */
export function runtimeDir(name: string): string {
  return path.join(runtimesDir(), name);
}
