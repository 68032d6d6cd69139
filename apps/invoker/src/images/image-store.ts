import { Inject, Injectable, Logger } from '@nestjs/common';
import { promises as fs } from 'fs';
import * as path from 'path';
import { UnavailableError, ValidationError } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { IMAGE_FILE, ImageRootfsStore, RegistryClient, RegistryError, registryOptionsFor, ResolvedImage, RootfsError } from '@platform/runtimes';
import { InvokerSettingsValues } from '../settings';
import { WorkDirs } from '../workers/work-dirs';

/**
 * The rootfs of the OCI images functions run from (`image:` on create): pulled from their registry by the digest
 * the build pinned (HKS_OCI_REGISTRY with its transport and credentials, like the builder), unpacked once per digest under the invoker's work dir (`images/`), shared by every worker
 * and every invoker on the machine. See ImageRootfsStore in @platform/runtimes.
 */
@Injectable()
export class ImageStore {
  private readonly logger = new Logger(ImageStore.name);
  private readonly store: ImageRootfsStore;
  private readonly optionsFor: ReturnType<typeof registryOptionsFor>;

  constructor(dirs: WorkDirs, @Inject(SETTINGS) settings: InvokerSettingsValues) {
    this.store = new ImageRootfsStore(path.join(dirs.root, 'images'), { maxBytes: settings.HKS_OCI_MAX_UNPACKED_BYTES, maxEntries: 500_000 });
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

  /** The unpacked rootfs; a registry that cannot be reached is a 503, an image that is gone or broken a 4xx, both saying which. */
  async rootfs(image: ResolvedImage): Promise<string> {
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
}
