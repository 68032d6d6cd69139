import { Inject, Injectable } from '@nestjs/common';
import { createReadStream, promises as fs, ReadStream } from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import { parseSha256Digest, ValidationError } from '@platform/contracts';
import { SETTINGS } from '@platform/config';
import { BuilderSettingsValues } from '../settings';

/**
 * Content-addressed bundle store: ${HKS_DATA_DIR}/artifacts/sha256/<hex>.tar. A file is written
 * under a temporary name and renamed into place, so a reader never sees half a bundle.
 */
@Injectable()
export class ArtifactStore {
  readonly root: string;

  constructor(@Inject(SETTINGS) settings: BuilderSettingsValues) {
    this.root = path.resolve(settings.HKS_DATA_DIR, 'artifacts', 'sha256');
  }

  pathOf(hex: string): string {
    if (!/^[0-9a-f]{64}$/.test(hex)) throw new ValidationError(`"${hex}" is not a sha256 digest: expected 64 lowercase hex digits`);
    return path.join(this.root, `${hex}.tar`);
  }

  pathOfDigest(digest: string): string {
    const hex = parseSha256Digest(digest);
    if (!hex) throw new ValidationError(`"${digest}" is not a digest of the form sha256:<64 hex digits>`);
    return this.pathOf(hex);
  }

  async put(digest: string, data: Buffer): Promise<string> {
    const target = this.pathOfDigest(digest);
    if (await this.has(digest)) return target;
    await fs.mkdir(this.root, { recursive: true });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.partial`;
    await fs.writeFile(tmp, data, { mode: 0o444 });
    await fs.rename(tmp, target);
    return target;
  }

  async has(digest: string): Promise<boolean> {
    try {
      return (await fs.stat(this.pathOfDigest(digest))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  async read(digest: string): Promise<Buffer> {
    return fs.readFile(this.pathOfDigest(digest));
  }

  /** Opens a stored bundle for streaming, or undefined when there is none with that digest. */
  async open(hex: string): Promise<{ stream: ReadStream; size: number } | undefined> {
    const file = this.pathOf(hex);
    try {
      const st = await fs.stat(file);
      if (!st.isFile()) return undefined;
      return { stream: createReadStream(file), size: st.size };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }
}
