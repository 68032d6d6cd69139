import { linkSync, mkdirSync, promises as fs, symlinkSync } from 'fs';
import * as path from 'path';
import type { Bundle } from '../bundles/bundle-store';
import type { BundleEntry } from '../bundles/tar-extract';

/** Above this many entries the links are made asynchronously, so a big bundle does not stall the event loop. */
const SYNC_LIMIT = 256;

/**
 * Fills a prewarmed worker's empty code slot (bound read-only at /code in its sandbox) with the
 * bundle's files as hard links: no bytes are copied, and the sandbox sees exactly this function's code.
 * The entries were checked when the bundle was unpacked (no "..", nothing below a symlink).
 */
export async function linkBundle(bundle: Bundle, slot: string): Promise<void> {
  if (bundle.entries.length <= SYNC_LIMIT) {
    for (const e of bundle.entries) placeSync(bundle.dir, slot, e);
    return;
  }
  for (const e of bundle.entries) {
    const target = path.join(slot, e.path);
    await fs.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
    if (e.type === 'directory') await fs.mkdir(target, { recursive: true, mode: 0o755 });
    else if (e.type === 'symlink') await fs.symlink(e.linkname ?? '', target);
    else await fs.link(path.join(bundle.dir, e.path), target);
  }
}

function placeSync(from: string, slot: string, e: BundleEntry): void {
  const target = path.join(slot, e.path);
  if (e.path.includes('/')) mkdirSync(path.dirname(target), { recursive: true, mode: 0o755 });
  if (e.type === 'directory') mkdirSync(target, { recursive: true, mode: 0o755 });
  else if (e.type === 'symlink') symlinkSync(e.linkname ?? '', target);
  else linkSync(path.join(from, e.path), target);
}
