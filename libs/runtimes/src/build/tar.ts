import { promisify } from 'util';
import { promises as fs } from 'fs';
import * as path from 'path';
import * as tar from 'tar-stream';
import * as zlib from 'zlib';
import { sha256Digest } from './digest';

const gzip = promisify(zlib.gzip);

/** One entry of a deterministic tar: no times, owners or umask leak in, only the path, kind, mode and bytes. */
export interface TarEntry {
  /** Relative POSIX path without a leading "./" or "/"; directories without a trailing "/". */
  path: string;
  type: 'file' | 'directory' | 'symlink';
  /** Files: 0o755 when executable, else 0o644. Directories 0o755, symlinks 0o777. */
  mode?: number;
  data?: Buffer;
  linkname?: string;
}

const EPOCH = new Date(0);

function normalisedMode(e: TarEntry): number {
  if (e.type === 'directory') return 0o755;
  if (e.type === 'symlink') return 0o777;
  return (e.mode ?? 0o644) & 0o111 ? 0o755 : 0o644;
}

function checkPath(p: string): void {
  if (!p || p.startsWith('/') || p.endsWith('/') || p.split('/').some((s) => s === '' || s === '.' || s === '..')) {
    throw new Error(`invalid tar entry path "${p}"`);
  }
}

/**
 * Writes a tar whose bytes depend only on the entries: sorted paths, mtime 0, uid/gid 0, no user or
 * group names, fixed modes. Same files in, same digest out, on any machine.
 */
export async function deterministicTar(entries: TarEntry[]): Promise<Buffer> {
  const sorted = [...entries].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  for (let i = 0; i < sorted.length; i++) {
    checkPath(sorted[i].path);
    if (i > 0 && sorted[i].path === sorted[i - 1].path) throw new Error(`duplicate tar entry "${sorted[i].path}"`);
  }
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('data', (c) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const e of sorted) {
    const header = { mtime: EPOCH, uid: 0, gid: 0, uname: '', gname: '', mode: normalisedMode(e) };
    if (e.type === 'directory') {
      pack.entry({ ...header, name: `${e.path}/`, type: 'directory' });
    } else if (e.type === 'symlink') {
      pack.entry({ ...header, name: e.path, type: 'symlink', linkname: e.linkname ?? '' });
    } else {
      pack.entry({ ...header, name: e.path, type: 'file', size: e.data?.length ?? 0 }, e.data ?? Buffer.alloc(0));
    }
  }
  pack.finalize();
  return done;
}

/**
 * gzip with a fixed header (mtime 0, OS "unknown") so the compressed bytes, and the OCI blob digest,
 * are the same wherever the image is built.
 */
export async function deterministicGzip(data: Buffer): Promise<Buffer> {
  // On the thread pool: a layer's level-9 compression must not stop the event loop the builder may share.
  const gz = await gzip(data, { level: 9 });
  gz.writeUInt32LE(0, 4);
  gz[9] = 255;
  return gz;
}

/** Reads a directory into tar entries (files, directories, symlinks), optionally under a prefix. */
export async function collectTree(root: string, prefix = ''): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  const walk = async (dir: string, rel: string) => {
    const items = await fs.readdir(dir, { withFileTypes: true });
    for (const item of items) {
      const full = path.join(dir, item.name);
      const relPath = rel ? `${rel}/${item.name}` : item.name;
      const tarPath = prefix ? `${prefix}/${relPath}` : relPath;
      if (item.isSymbolicLink()) {
        out.push({ path: tarPath, type: 'symlink', linkname: await fs.readlink(full) });
      } else if (item.isDirectory()) {
        out.push({ path: tarPath, type: 'directory' });
        await walk(full, relPath);
      } else if (item.isFile()) {
        const st = await fs.stat(full);
        out.push({ path: tarPath, type: 'file', mode: st.mode, data: await fs.readFile(full) });
      }
      // Sockets, fifos and devices have no place in a bundle and are left out.
    }
  };
  await walk(root, '');
  return out;
}

/** The directories leading to a prefix ("opt/hks/runtime" -> opt, opt/hks, opt/hks/runtime), for image layers. */
export function parentDirectories(prefix: string): TarEntry[] {
  const parts = prefix.split('/').filter(Boolean);
  return parts.map((_, i) => ({ path: parts.slice(0, i + 1).join('/'), type: 'directory' as const }));
}

export interface Bundle {
  tar: Buffer;
  /** "sha256:<hex>" of the tar bytes. */
  digest: string;
  size: number;
}

/** The build workspace as the function's bundle: its files at the top level. */
export async function bundleDirectory(dir: string): Promise<Bundle> {
  const tarBytes = await deterministicTar(await collectTree(dir));
  return { tar: tarBytes, digest: sha256Digest(tarBytes), size: tarBytes.length };
}

/** Reads a tar back into entries (tests, image layers built from a stored bundle). */
export async function readTar(data: Buffer): Promise<TarEntry[]> {
  const extract = tar.extract();
  const out: TarEntry[] = [];
  const done = new Promise<TarEntry[]>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c) => chunks.push(c as Buffer));
      stream.on('end', () => {
        const name = header.name.replace(/\/$/, '');
        const type = header.type === 'directory' ? 'directory' : header.type === 'symlink' ? 'symlink' : 'file';
        out.push({ path: name, type, mode: header.mode, data: type === 'file' ? Buffer.concat(chunks) : undefined, linkname: header.linkname ?? undefined });
        next();
      });
      stream.resume();
    });
    extract.on('finish', () => resolve(out));
    extract.on('error', reject);
  });
  extract.end(data);
  return done;
}
