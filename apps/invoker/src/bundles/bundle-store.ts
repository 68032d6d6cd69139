import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { createReadStream, promises as fs } from 'fs';
import * as path from 'path';
import { Readable } from 'stream';
import { randomBytes } from 'crypto';
import { artifactPath, parseSha256Digest, StateError, UnavailableError, ValidationError } from '@platform/contracts';
import { InternalCredential, SETTINGS } from '@platform/config';
import { BundleManifest, MANIFEST_PATH } from '@platform/runtimes';
import { InvokerSettingsValues } from '../settings';
import { WorkDirs } from '../workers/work-dirs';
import { BundleLeases } from './bundle-leases';
import { BundleEntry, BundleError, extractVerified } from './tar-extract';

/** A function's code, unpacked once per digest and shared (read-only) by every worker that runs it. */
export interface Bundle {
  digest: string;
  hex: string;
  dir: string;
  entries: BundleEntry[];
  /** `.hks/manifest.json` as the bundle holds it: read from disk, so any field may be missing. */
  manifest: Partial<BundleManifest> | null;
}

/**
 * Bundles by digest: from `${HKS_DATA_DIR}/artifacts/sha256/<hex>.tar` when the builder shares this
 * machine, else from `${BUILDER_URL}/artifacts/sha256/<hex>`. The sha256 is checked while unpacking.
 * Each deployment holds its bundle (acquire) until its workers are gone (release); a bundle no
 * deployment holds is removed from disk, unless another invoker sharing the data dir still uses it.
 */
@Injectable()
export class BundleStore implements OnApplicationShutdown {
  private readonly logger = new Logger(BundleStore.name);
  private readonly ready = new Map<string, Bundle>();
  private readonly inProgress = new Map<string, Promise<Bundle>>();
  private readonly holders = new Map<string, number>();
  private readonly evicting = new Map<string, Promise<void>>();
  private readonly leases: BundleLeases;
  private closing = false;

  constructor(
    @Inject(SETTINGS) private readonly settings: InvokerSettingsValues,
    private readonly dirs: WorkDirs,
    private readonly credential: InternalCredential,
  ) {
    this.leases = new BundleLeases(dirs.bundles, path.basename(dirs.instance));
  }

  /** The unpacked bundle, held until release(): it stays on disk meanwhile. */
  async acquire(digest: string): Promise<Bundle> {
    const hex = parseSha256Digest(digest);
    if (!hex) throw new ValidationError(`bundleDigest "${digest}" is not a sha256 digest (sha256:<64 hex digits>)`);
    this.holders.set(hex, (this.holders.get(hex) ?? 0) + 1);
    try {
      // A removal of the same digest that is under way finishes first; the bundle is then unpacked again.
      await this.evicting.get(hex);
      return await this.ensure(digest, hex);
    } catch (err) {
      this.release(hex);
      throw err;
    }
  }

  /** Once no deployment holds the bundle any more (and its workers are gone), its files go. */
  release(hexOrBundle: string | Bundle): void {
    const hex = typeof hexOrBundle === 'string' ? hexOrBundle : hexOrBundle.hex;
    const left = (this.holders.get(hex) ?? 1) - 1;
    if (left > 0) return void this.holders.set(hex, left);
    this.holders.delete(hex);
    if (this.closing || this.evicting.has(hex)) return;
    const job = this.evict(hex)
      .catch((err) => this.logger.warn(`could not remove the unpacked bundle sha256:${hex}: ${(err as Error).message}`))
      .finally(() => this.evicting.delete(hex));
    this.evicting.set(hex, job);
  }

  private async evict(hex: string): Promise<void> {
    await this.inProgress.get(hex)?.catch(() => undefined);
    if (this.holders.has(hex)) return; // acquired again meanwhile
    this.ready.delete(hex);
    const dir = path.join(this.dirs.bundles, hex);
    const gone = `${dir}.evicted-${randomBytes(4).toString('hex')}`;
    const evicted = await this.leases.giveUp(hex, async () => {
      // The index goes first: a folder without it is never used (see publish).
      await fs.rm(path.join(this.dirs.bundles, `${hex}.entries.json`), { force: true });
      await fs.rename(dir, gone).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    });
    if (!evicted) return;
    await fs.rm(gone, { recursive: true, force: true });
    this.logger.log(`removed the unpacked bundle sha256:${hex}: no deployment uses it any more`);
  }

  async onApplicationShutdown(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([...this.evicting.values()]);
    await this.leases.dropAll(this.ready.keys());
  }

  private ensure(digest: string, hex: string): Promise<Bundle> {
    const known = this.ready.get(hex);
    if (known) return Promise.resolve(known);
    let job = this.inProgress.get(hex);
    if (!job) {
      job = this.load(digest, hex).finally(() => this.inProgress.delete(hex));
      this.inProgress.set(hex, job);
    }
    return job;
  }

  private async load(digest: string, hex: string): Promise<Bundle> {
    const dir = path.join(this.dirs.bundles, hex);
    await this.leases.take(hex);
    const index = path.join(this.dirs.bundles, `${hex}.entries.json`);
    let entries: BundleEntry[] | undefined;
    try {
      entries = JSON.parse(await fs.readFile(index, 'utf8')) as BundleEntry[];
    } catch {
      entries = undefined;
    }
    if (!entries) {
      const tmp = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
      try {
        entries = await extractVerified(await this.open(digest, hex), tmp, hex);
      } catch (err) {
        if (err instanceof BundleError) throw new StateError(`bundle ${digest} cannot be used: ${err.message}`);
        throw err;
      }
      await this.publish(tmp, dir, index, entries);
      this.logger.log(`unpacked bundle ${digest} (${entries.length} entries)`);
    }
    const bundle: Bundle = { digest, hex, dir, entries, manifest: await readManifest(dir, entries) };
    this.ready.set(hex, bundle);
    return bundle;
  }

  /**
   * Moves a freshly unpacked bundle into place. Another invoker sharing the data dir may have done it
   * first (its copy is as good: same digest); a folder without its index is a leftover of a crash.
   */
  private async publish(tmp: string, dir: string, index: string, entries: BundleEntry[]): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        await fs.rename(tmp, dir);
        break;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if ((code !== 'ENOTEMPTY' && code !== 'EEXIST') || attempt > 3) throw err;
        const complete = await fs.access(index).then(
          () => true,
          () => false,
        );
        if (complete) return void (await fs.rm(tmp, { recursive: true, force: true }));
        const stale = `${dir}.stale-${randomBytes(4).toString('hex')}`;
        await fs.rename(dir, stale).catch(() => undefined);
        void fs.rm(stale, { recursive: true, force: true });
      }
    }
    // Written last: its presence says the directory is complete.
    await fs.writeFile(index, JSON.stringify(entries));
  }

  private async open(digest: string, hex: string): Promise<Readable> {
    const local = path.join(this.settings.HKS_DATA_DIR, 'artifacts', 'sha256', `${hex}.tar`);
    try {
      await fs.access(local);
      return createReadStream(local);
    } catch {
      // Not on this machine: ask the builder.
    }
    const url = `${this.settings.BUILDER_URL.replace(/\/+$/, '')}${artifactPath(digest)}`;
    let res: Response;
    try {
      res = await fetch(url, { headers: this.credential.header(), signal: AbortSignal.timeout(120_000) });
    } catch (err) {
      throw new UnavailableError(`bundle ${digest} is not in ${path.dirname(local)} and the builder at ${url} is unreachable (${(err as Error).message})`);
    }
    if (res.status === 404) throw new StateError(`bundle ${digest} exists neither in ${path.dirname(local)} nor at the builder; build the function again`);
    if (!res.ok || !res.body) throw new UnavailableError(`the builder answered ${res.status} for bundle ${digest}`);
    return Readable.fromWeb(res.body as import('stream/web').ReadableStream);
  }
}

async function readManifest(dir: string, entries: BundleEntry[]): Promise<Partial<BundleManifest> | null> {
  // Only a real file in a real folder: a symlinked .hks would make the invoker read a path the bundle chose.
  const folder = path.posix.dirname(MANIFEST_PATH);
  const isDir = entries.some((e) => e.path === folder && e.type === 'directory');
  const isFile = entries.some((e) => e.path === MANIFEST_PATH && e.type === 'file');
  if (!isFile || (entries.some((e) => e.path === folder) && !isDir)) return null;
  try {
    const value = JSON.parse(await fs.readFile(path.join(dir, MANIFEST_PATH), 'utf8'));
    return typeof value === 'object' && value !== null ? (value as Partial<BundleManifest>) : null;
  } catch {
    return null;
  }
}
