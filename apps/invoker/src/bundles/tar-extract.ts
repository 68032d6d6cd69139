import { createHash } from 'crypto';
import { constants, promises as fs } from 'fs';
import * as path from 'path';
import { Readable, Transform } from 'stream';
import { pipeline } from 'stream/promises';
import * as tar from 'tar-stream';

/** What a bundle holds, in tar order; kept so a worker's code directory is linked without walking the tree. */
export interface BundleEntry {
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** Files: whether the owner may execute it. */
  executable?: boolean;
  linkname?: string;
}

export class BundleError extends Error {}

const MAX_ENTRIES = 200_000;
const MAX_BYTES = 2 * 1024 * 1024 * 1024;

/** A path from a tar header, made relative and checked: nothing absolute, no "..", no empty segments. */
export function entryPath(name: string): string {
  const p = name.replace(/^\.\/+/, '').replace(/\/+$/, '');
  if (!p || p.startsWith('/') || p.includes('\0') || p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new BundleError(`the bundle holds an unsafe path "${name}"`);
  }
  return p;
}

/**
 * Unpacks a tar stream into `dir` (which must not exist) while hashing it; rejects unless the sha256 of
 * the bytes is `expectedHex`. Files are written with O_EXCL|O_NOFOLLOW and never below a symlink the
 * tar created, so a hostile tar cannot write outside `dir`. Only files, directories and symlinks are
 * kept. On any failure the partial directory is removed.
 */
export async function extractVerified(source: Readable, dir: string, expectedHex: string): Promise<BundleEntry[]> {
  const hash = createHash('sha256');
  const entries: BundleEntry[] = [];
  const symlinks = new Set<string>();
  const dirs = new Set<string>(['']);
  let bytes = 0;
  await fs.mkdir(dir, { mode: 0o755 });

  const ensureParents = async (rel: string) => {
    const parts = rel.split('/');
    for (let i = 1; i < parts.length; i++) {
      const prefix = parts.slice(0, i).join('/');
      if (symlinks.has(prefix)) throw new BundleError(`the bundle writes "${rel}" through the symlink "${prefix}"`);
      if (!dirs.has(prefix)) {
        await fs.mkdir(path.join(dir, prefix), { mode: 0o755 }).catch((err) => {
          if (err.code !== 'EEXIST') throw err;
        });
        dirs.add(prefix);
      }
    }
  };

  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    const done = (err?: unknown) => (err ? extract.destroy(err as Error) : next());
    (async () => {
      if (entries.length >= MAX_ENTRIES) throw new BundleError(`the bundle holds more than ${MAX_ENTRIES} entries`);
      const rel = entryPath(header.name);
      await ensureParents(rel);
      const full = path.join(dir, rel);
      if (header.type === 'directory') {
        stream.resume();
        if (!dirs.has(rel)) {
          await fs.mkdir(full, { mode: 0o755 });
          dirs.add(rel);
        }
        entries.push({ path: rel, type: 'directory' });
      } else if (header.type === 'symlink') {
        stream.resume();
        // Resolved only inside the sandbox (where / is the sandbox's root); the invoker never follows it.
        await fs.symlink(header.linkname ?? '', full);
        symlinks.add(rel);
        entries.push({ path: rel, type: 'symlink', linkname: header.linkname ?? '' });
      } else if (header.type === 'file' || header.type === 'contiguous-file') {
        bytes += header.size ?? 0;
        if (bytes > MAX_BYTES) throw new BundleError(`the bundle unpacks to more than ${MAX_BYTES} bytes`);
        const executable = ((header.mode ?? 0o644) & 0o100) !== 0;
        const file = await fs.open(full, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, executable ? 0o755 : 0o644);
        await pipeline(stream, file.createWriteStream());
        entries.push({ path: rel, type: 'file', executable });
      } else {
        stream.resume(); // pax headers are handled by tar-stream; devices, fifos and hard links are not code.
      }
    })().then(() => done(), done);
  });

  const hashing = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      cb(null, chunk);
    },
  });
  try {
    await pipeline(source, hashing, extract);
    const actual = hash.digest('hex');
    if (actual !== expectedHex) throw new BundleError(`the bundle's sha256 is ${actual}, not the ${expectedHex} it was deployed as`);
    return entries;
  } catch (err) {
    await fs.rm(dir, { recursive: true, force: true });
    // Errors without a system code come from the tar parser: the bytes are not a tar.
    if (!(err instanceof BundleError) && !(err as NodeJS.ErrnoException).code) throw new BundleError(`it is not a readable tar (${(err as Error).message})`);
    throw err;
  }
}
