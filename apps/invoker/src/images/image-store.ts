import { Inject, Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { promises as fs } from 'fs';
import * as path from 'path';
import { parseSha256Digest, UnavailableError, ValidationError } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { IMAGE_FILE, ImageRootfsStore, RegistryClient, RegistryError, registryOptionsFor, ResolvedImage, RootfsError } from '@platform/runtimes';
import { BundleLeases } from '../bundles/bundle-leases';
import { InvokerSettingsValues } from '../settings';
import { WorkDirs } from '../workers/work-dirs';

/**
 * The rootfs of the OCI images functions run from (`image:` on create): pulled from their registry by the digest
 * the build pinned (HKS_OCI_REGISTRY with its transport and credentials, like the builder), unpacked once per digest
 * under the invoker's work dir (`images/`), shared by every worker and every invoker on the machine. Each deployment
 * holds its image (acquire) until its last worker is gone (release); a tree no live invoker holds is removed, and the
 * total is kept under INVOKER_IMAGES_MAX_BYTES. See ImageRootfsStore in @platform/runtimes.
 */
@Injectable()
export class ImageStore implements OnApplicationShutdown {
  private readonly logger = new Logger(ImageStore.name);
  private readonly store: ImageRootfsStore;
  private readonly leases: BundleLeases;
  private readonly holders = new Map<string, number>();
  private readonly evicting = new Map<string, Promise<unknown>>();
  private readonly optionsFor: ReturnType<typeof registryOptionsFor>;
  private readonly leasesDir: string;

  constructor(
    dirs: WorkDirs,
    @Inject(SETTINGS) private readonly settings: InvokerSettingsValues,
  ) {
    const root = path.join(dirs.root, 'images');
    this.store = new ImageRootfsStore(root, { maxBytes: settings.HKS_OCI_MAX_UNPACKED_BYTES, maxEntries: 500_000 });
    this.leasesDir = path.join(root, 'leases');
    this.leases = new BundleLeases(this.leasesDir, path.basename(dirs.instance));
    this.optionsFor = registryOptionsFor(settings);
  }

  /** The image a bundle holds (`.hks/image.json`, written by its build). */
  async imageOf(bundleDir: string): Promise<ResolvedImage> {
    const file = path.join(bundleDir, IMAGE_FILE);
    try {
      return JSON.parse(await fs.readFile(file, 'utf8')) as ResolvedImage;
    } catch (err) {
      throw new ValidationError(`the bundle names no image (${IMAGE_FILE}: ${(err as Error).message}); build the function again`);
    }
  }

  /**
   * The unpacked rootfs, held until release(); a registry that cannot be reached is a 503, an image that is gone,
   * broken or too large a 4xx, each saying which.
   */
  async acquire(image: ResolvedImage): Promise<string> {
    const hex = this.hex(image.manifestDigest);
    this.holders.set(hex, (this.holders.get(hex) ?? 0) + 1);
    try {
      await this.evicting.get(hex);
      await fs.mkdir(this.leasesDir, { recursive: true, mode: 0o711 });
      await this.leases.take(hex);
      const dir = await this.rootfs(image);
      await this.store.touch(image.manifestDigest);
      await this.keepUnderCap(image);
      return dir;
    } catch (err) {
      // Nothing of a refused image stays behind (unless another deployment holds it).
      await this.release(image.manifestDigest);
      throw err;
    }
  }

  /** A deployment no longer uses the image: its tree goes once no invoker sharing the work dir does. */
  release(manifestDigest: string): Promise<unknown> {
    const hex = this.hex(manifestDigest);
    const left = (this.holders.get(hex) ?? 1) - 1;
    if (left > 0) {
      this.holders.set(hex, left);
      return Promise.resolve();
    }
    this.holders.delete(hex);
    const evict = this.leases
      .giveUp(hex, () => this.store.remove(manifestDigest))
      .then(
        (removed) => removed && this.logger.log(`removed the unpacked image ${manifestDigest}: no deployment uses it any more`),
        (err: Error) => this.logger.warn(`could not remove the unpacked image ${manifestDigest}: ${err.message}`),
      )
      .finally(() => {
        if (this.evicting.get(hex) === evict) this.evicting.delete(hex);
      });
    this.evicting.set(hex, evict);
    return evict;
  }

  /** Whether the image is unpacked here now (for tests and the deployment view). */
  has(manifestDigest: string): Promise<boolean> {
    return this.store.has(manifestDigest);
  }

  private async rootfs(image: ResolvedImage): Promise<string> {
    if (await this.store.has(image.manifestDigest)) return this.store.rootfsDir(image.manifestDigest);
    const started = Date.now();
    try {
      const dir = await this.store.ensure(new RegistryClient(image.ref.registry, this.optionsFor(image.ref.registry)), image);
      this.logger.log(`pulled and unpacked ${image.pinned} (${image.layers.length} layer(s)) in ${Date.now() - started} ms`);
      return dir;
    } catch (err) {
      const message = `cannot pull image ${image.pinned}: ${(err as Error).message}`;
      if (err instanceof RootfsError) throw new ValidationError(message);
      if (err instanceof RegistryError && err.status !== undefined && err.status >= 400 && err.status < 500) throw new ValidationError(message);
      throw new UnavailableError(message);
    }
  }

  /**
   * Past INVOKER_IMAGES_MAX_BYTES, the trees no live invoker holds go, least recently used first; when those in use
   * still exceed it, the image just unpacked is refused (and removed unless someone else holds it).
   */
  private async keepUnderCap(image: ResolvedImage): Promise<void> {
    const cap = this.settings.INVOKER_IMAGES_MAX_BYTES;
    const trees = (await this.store.list()).sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    let total = trees.reduce((n, t) => n + t.bytes, 0);
    for (const t of trees) {
      if (total <= cap) return;
      const hex = this.hex(t.manifestDigest);
      if (t.manifestDigest === image.manifestDigest || this.holders.has(hex)) continue;
      // giveUp evicts only when no live process (this one included) holds a lease.
      if (await this.leases.giveUp(hex, () => this.store.remove(t.manifestDigest))) {
        total -= t.bytes;
        this.logger.log(`removed the unpacked image ${t.pinned} (least recently used) to stay under INVOKER_IMAGES_MAX_BYTES (${cap} bytes)`);
      }
    }
    if (total > cap) {
      throw new ValidationError(
        `cannot run image ${image.pinned}: the unpacked images in use take ${total} bytes with it, more than INVOKER_IMAGES_MAX_BYTES (${cap} bytes); ` +
          'undeploy image functions or raise the setting',
      );
    }
  }

  private hex(digest: string): string {
    const hex = parseSha256Digest(digest);
    if (!hex) throw new ValidationError(`"${digest}" is not a sha256 digest`);
    return hex;
  }

  /** At shutdown this process holds no image any more; the trees stay for the next start or another invoker. */
  async onApplicationShutdown(): Promise<void> {
    await this.leases.dropAll(this.holders.keys());
    this.holders.clear();
  }
}
