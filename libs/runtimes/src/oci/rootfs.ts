import { randomBytes } from 'crypto';
import { createReadStream, promises as fs } from 'fs';
import * as path from 'path';
import { Readable } from 'stream';
import { pipeline } from 'stream/promises';
import { createGunzip } from 'zlib';
import * as tar from 'tar-stream';
import { parseSha256Digest } from '@platform/contracts';
import type { ResolvedImage } from './image-resolve';
import { RegistryClient, RegistryError } from './registry-client';

/** Directories every sandbox binds something onto: made in each rootfs, since its / is read-only. */
export const ROOTFS_MOUNT_POINTS = ['proc', 'dev', 'tmp', 'hks'];
/** Files bound over with the sandbox's own contents when it has network egress. */
const ROOTFS_FILE_POINTS = ['etc/resolv.conf', 'etc/hosts'];
const WHITEOUT = '.wh.';
const OPAQUE = '.wh..wh..opq';
const MAX_SYMLINK_HOPS = 40;

export interface RootfsLimits {
  /** Largest unpacked image, in bytes (files' sizes): HKS_OCI_MAX_UNPACKED_BYTES. */
  maxBytes: number;
  maxEntries: number;
}

const DEFAULT_LIMITS: RootfsLimits = { maxBytes: 8 * 1024 * 1024 * 1024, maxEntries: 500_000 };

/** What the store knows of an unpacked image, beside its tree (`rootfs/<hex>.json`). */
export interface RootfsRecord {
  manifestDigest: string;
  pinned: string;
  layers: string[];
  /** Unpacked size (files' sizes). */
  bytes: number;
}

export class RootfsError extends Error {}

/**
 * Resolves `rel` inside `root` as a process chrooted there would: each symlink met on the way is followed
 * with `root` as /, never out of it (absolute links and ".." stop at the root). `followLast` says whether a
 * symlink in the last component is followed too. Returns the host path.
 */
export async function resolveInRoot(root: string, rel: string, followLast = false): Promise<string> {
  const pending = rel.split('/').filter((s) => s && s !== '.');
  const done: string[] = [];
  let hops = 0;
  while (pending.length) {
    const part = pending.shift() as string;
    if (part === '..') {
      done.pop();
      continue;
    }
    const candidate = path.join(root, ...done, part);
    let stat;
    try {
      stat = await fs.lstat(candidate);
    } catch {
      // Does not exist (yet): the rest is taken literally.
      done.push(part, ...pending.filter((p) => p !== '.'));
      break;
    }
    if (stat.isSymbolicLink() && (pending.length || followLast)) {
      if (++hops > MAX_SYMLINK_HOPS) throw new RootfsError(`too many symlinks resolving /${rel}`);
      const target = await fs.readlink(candidate);
      if (target.startsWith('/')) done.length = 0;
      pending.unshift(...target.split('/').filter((s) => s && s !== '.'));
      continue;
    }
    done.push(part);
  }
  const out = path.join(root, ...done.filter((p) => p !== '..'));
  if (out !== root && !out.startsWith(root + path.sep)) throw new RootfsError(`/${rel} resolves outside the image`);
  return out;
}

function entryName(name: string): string {
  const parts = name
    .replace(/^\.?\/+/, '')
    .split('/')
    .filter((s) => s && s !== '.');
  if (parts.includes('..') || name.includes('\0')) throw new RootfsError(`the layer holds an unsafe path "${name}"`);
  return parts.join('/');
}

/** Readable by the sandbox's user whoever owns the files; no setuid/setgid bits. */
function safeMode(mode: number | undefined, type: 'file' | 'directory'): number {
  const m = (mode ?? (type === 'directory' ? 0o755 : 0o644)) & 0o777;
  if (type === 'directory') return m | 0o755;
  return m & 0o111 ? m | 0o555 : m | 0o444;
}

async function removeTree(p: string): Promise<void> {
  await fs.rm(p, { recursive: true, force: true });
}

/**
 * Applies one layer (a tar, gzip-compressed or not) on `root` the way overlay filesystems stack them:
 * `.wh.<name>` removes <name> of the layers below, `.wh..wh..opq` empties its directory of what they
 * put there; hard links point at a file of the image; devices and FIFOs are skipped (the sandbox has its
 * own /dev). Nothing is written outside `root`, whatever the layer's symlinks say.
 */
export async function applyLayer(root: string, layer: Readable, budget: { bytes: number; entries: number }, limits = DEFAULT_LIMITS): Promise<void> {
  const extract = tar.extract();
  const thisLayer = new Set<string>();
  extract.on('entry', (header, stream, next) => {
    const done = (err?: unknown) => (err ? extract.destroy(err as Error) : next());
    (async () => {
      if (++budget.entries > limits.maxEntries) throw new RootfsError(`the image holds more than ${limits.maxEntries} entries`);
      const rel = entryName(header.name);
      if (!rel) {
        stream.resume();
        return;
      }
      const base = path.posix.basename(rel);
      const dirRel = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
      const parent = await resolveInRoot(root, dirRel, true);
      if (base === OPAQUE) {
        stream.resume();
        const children = await fs.readdir(parent).catch(() => [] as string[]);
        for (const child of children) {
          if (!thisLayer.has(dirRel ? `${dirRel}/${child}` : child)) await removeTree(path.join(parent, child));
        }
        return;
      }
      if (base.startsWith(WHITEOUT)) {
        stream.resume();
        const hidden = base.slice(WHITEOUT.length);
        // ".wh.." or ".wh..." would name the folder itself or the one above the rootfs: refused, never removed.
        if (!hidden || hidden === '.' || hidden === '..' || hidden.includes('/')) throw new Error(`layer entry ${rel}: a whiteout that names no file`);
        const gone = path.join(parent, hidden);
        if (!gone.startsWith(root + path.sep)) throw new Error(`layer entry ${rel}: a whiteout outside the image`);
        await removeTree(gone);
        return;
      }
      await fs.mkdir(parent, { recursive: true, mode: 0o755 });
      const target = path.join(parent, base);
      thisLayer.add(rel);
      const existing = await fs.lstat(target).catch(() => null);
      if (header.type === 'directory') {
        stream.resume();
        if (existing && !existing.isDirectory()) await removeTree(target);
        if (!existing || !existing.isDirectory()) await fs.mkdir(target, { mode: 0o755 });
        await fs.chmod(target, safeMode(header.mode, 'directory'));
        return;
      }
      // Anything else replaces what the layers below had at that path.
      if (existing) await removeTree(target);
      if (header.type === 'file' || header.type === 'contiguous-file') {
        budget.bytes += header.size ?? 0;
        if (budget.bytes > limits.maxBytes) throw new RootfsError(`the image unpacks to more than HKS_OCI_MAX_UNPACKED_BYTES (${limits.maxBytes} bytes)`);
        const handle = await fs.open(target, 'wx', 0o600);
        try {
          for await (const chunk of stream) await handle.write(chunk as Buffer);
        } finally {
          await handle.close();
        }
        await fs.chmod(target, safeMode(header.mode, 'file'));
      } else if (header.type === 'symlink') {
        stream.resume();
        await fs.symlink(header.linkname ?? '', target);
      } else if (header.type === 'link') {
        stream.resume();
        const source = await resolveInRoot(root, entryName(header.linkname ?? ''), false);
        const st = await fs.lstat(source).catch(() => null);
        if (!st || !st.isFile()) throw new RootfsError(`the layer hard-links "${rel}" to "${header.linkname}", which is not a file of the image`);
        await fs.link(source, target);
      } else {
        // Character and block devices, FIFOs: not for a sandbox.
        stream.resume();
      }
    })().then(() => done(), done);
  });
  const gzipped = await peekGzip(layer);
  await pipeline(gzipped.magic ? [gzipped.stream, createGunzip(), extract] : [gzipped.stream, extract]);
}

/** Whether the stream starts with gzip's magic bytes, and the stream with those bytes still in it. */
async function peekGzip(source: Readable): Promise<{ magic: boolean; stream: Readable }> {
  const iterator = source[Symbol.asyncIterator]();
  const first = await iterator.next();
  const head = first.done ? Buffer.alloc(0) : Buffer.from(first.value as Buffer);
  const stream = Readable.from(
    (async function* () {
      if (head.length) yield head;
      for (;;) {
        const n = await iterator.next();
        if (n.done) return;
        yield n.value as Buffer;
      }
    })(),
  );
  return { magic: head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b, stream };
}

/**
 * Unpacked images by manifest digest under `dir`: `blobs/sha256/<hex>` (layers as pulled, each checked
 * against its digest) and `rootfs/<hex>` (the layers applied in order, plus the sandbox's mount points).
 * An image is pulled and unpacked once; a rootfs appears under its final name only when complete.
 */
export class ImageRootfsStore {
  private readonly inProgress = new Map<string, Promise<string>>();

  constructor(
    readonly dir: string,
    private readonly limits: RootfsLimits = DEFAULT_LIMITS,
  ) {}

  rootfsDir(manifestDigest: string): string {
    return path.join(this.dir, 'rootfs', hexOf(manifestDigest));
  }

  /** The image's rootfs on disk, pulled with `client` and unpacked if it is not there yet. */
  ensure(client: RegistryClient, image: ResolvedImage): Promise<string> {
    const hex = hexOf(image.manifestDigest);
    let p = this.inProgress.get(hex);
    if (!p) {
      p = this.unpack(client, image).finally(() => this.inProgress.delete(hex));
      this.inProgress.set(hex, p);
    }
    return p;
  }

  /** Whether the image is unpacked already (no registry needed). */
  async has(manifestDigest: string): Promise<boolean> {
    return fs.stat(path.join(this.rootfsDir(manifestDigest), 'hks')).then(
      (s) => s.isDirectory(),
      () => false,
    );
  }

  private async unpack(client: RegistryClient, image: ResolvedImage): Promise<string> {
    const final = this.rootfsDir(image.manifestDigest);
    if (await this.has(image.manifestDigest)) return final;
    await fs.mkdir(path.join(this.dir, 'rootfs'), { recursive: true });
    const work = path.join(this.dir, 'rootfs', `.tmp-${randomBytes(6).toString('hex')}`);
    await fs.mkdir(work, { mode: 0o755 });
    // Layers this unpack downloaded: removed again when it fails, unless an unpacked image lists them.
    const fetched: string[] = [];
    try {
      const budget = { bytes: 0, entries: 0 };
      for (const layer of image.layers) {
        if (layer.size > client.maxBlobBytes)
          throw new RegistryError(
            `layer ${layer.digest} of ${image.pinned} is ${layer.size} bytes, larger than HKS_OCI_MAX_BLOB_BYTES (${client.maxBlobBytes} bytes)`,
            413,
          );
        const blob = await this.blob(client, image.ref.repository, layer.digest, fetched);
        try {
          await applyLayer(work, createReadStream(blob), budget, this.limits);
        } catch (err) {
          throw new RootfsError(`layer ${layer.digest} of ${image.pinned} cannot be unpacked: ${(err as Error).message}`);
        }
      }
      for (const point of ROOTFS_MOUNT_POINTS) {
        const at = path.join(work, point);
        const st = await fs.lstat(at).catch(() => null);
        if (st && !st.isDirectory()) await removeTree(at);
        await fs.mkdir(at, { recursive: true, mode: 0o755 });
      }
      for (const point of ROOTFS_FILE_POINTS) {
        const at = await resolveInRoot(work, point, true);
        await fs.mkdir(path.dirname(at), { recursive: true, mode: 0o755 });
        const st = await fs.lstat(at).catch(() => null);
        if (!st) await fs.writeFile(at, '', { mode: 0o644 });
      }
      const record: RootfsRecord = {
        manifestDigest: image.manifestDigest,
        pinned: image.pinned,
        layers: image.layers.map((l) => l.digest),
        bytes: budget.bytes,
      };
      await fs.writeFile(`${final}.json`, JSON.stringify(record) + '\n');
      await fs.rename(work, final).catch(async (err: NodeJS.ErrnoException) => {
        // Another invoker sharing the data dir finished the same image first.
        if (err.code !== 'ENOTEMPTY' && err.code !== 'EEXIST') throw err;
        await removeTree(work);
      });
      return final;
    } catch (err) {
      await removeTree(work);
      await this.dropUnlisted(fetched);
      throw err;
    }
  }

  /** A layer's file: from the cache, else streamed from the registry (checked against its digest) into the cache. */
  private async blob(client: RegistryClient, repository: string, digest: string, fetched: string[]): Promise<string> {
    const file = this.blobFile(digest);
    const cached = await fs.stat(file).catch(() => null);
    if (!cached?.isFile()) {
      await client.downloadBlob(repository, digest, file);
      fetched.push(digest);
    }
    return file;
  }

  /** Removes these cached layers, but those an unpacked image lists (a failed unpack leaves nothing on disk). */
  private async dropUnlisted(digests: string[]): Promise<void> {
    if (!digests.length) return;
    const listed = new Set((await this.list()).flatMap((r) => r.layers));
    await Promise.all(digests.filter((d) => !listed.has(d)).map((d) => fs.rm(this.blobFile(d), { force: true })));
  }

  private blobFile(digest: string): string {
    return path.join(this.dir, 'blobs', 'sha256', hexOf(digest));
  }

  /** The images unpacked here, with their size and when they were last used (the record's mtime). */
  async list(): Promise<Array<RootfsRecord & { lastUsedMs: number }>> {
    const dir = path.join(this.dir, 'rootfs');
    const names = await fs.readdir(dir).catch(() => [] as string[]);
    const out: Array<RootfsRecord & { lastUsedMs: number }> = [];
    for (const name of names) {
      if (!/^[0-9a-f]{64}$/.test(name)) continue;
      const file = path.join(dir, `${name}.json`);
      const [text, st] = await Promise.all([fs.readFile(file, 'utf8').catch(() => null), fs.stat(file).catch(() => null)]);
      // A tree unpacked before records were written: its size is unknown (0), so only "unused" removes it.
      const record = text ? (JSON.parse(text) as RootfsRecord) : { manifestDigest: `sha256:${name}`, pinned: `sha256:${name}`, layers: [], bytes: 0 };
      out.push({ ...record, lastUsedMs: st?.mtimeMs ?? 0 });
    }
    return out;
  }

  /** Marks an image used now (the order least-recently-used eviction goes by). */
  async touch(manifestDigest: string): Promise<void> {
    const now = new Date();
    await fs.utimes(`${this.rootfsDir(manifestDigest)}.json`, now, now).catch(() => undefined);
  }

  /**
   * Removes an image's tree and record, and the cached layers no other unpacked image lists. The tree is
   * first renamed away, so a half-removed one never looks complete.
   */
  async remove(manifestDigest: string): Promise<void> {
    const final = this.rootfsDir(manifestDigest);
    const gone = path.join(this.dir, 'rootfs', `.gone-${randomBytes(6).toString('hex')}`);
    const record = (await this.list()).find((r) => r.manifestDigest === manifestDigest);
    await fs.rm(`${final}.json`, { force: true });
    await fs.rename(final, gone).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    await removeTree(gone);
    const kept = new Set((await this.list()).flatMap((r) => r.layers));
    for (const layer of record?.layers ?? []) if (!kept.has(layer)) await fs.rm(this.blobFile(layer), { force: true });
  }
}

function hexOf(digest: string): string {
  const hex = parseSha256Digest(digest);
  if (!hex) throw new RegistryError(`"${digest}" is not a sha256 digest`);
  return hex;
}
