import { Inject, Injectable, Logger } from '@nestjs/common';
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'fs';
import * as path from 'path';
import { SETTINGS } from '@platform/config';
import { RegistrySettingsValues } from '../settings';
import { SealedValues } from './secret.entity';

/** AES-256-GCM over the JSON of a secret's values; the key comes from REGISTRY_SECRETS_KEY or a generated key file. */
@Injectable()
export class SecretCipher {
  private readonly logger = new Logger(SecretCipher.name);
  private readonly key: Buffer;

  constructor(@Inject(SETTINGS) settings: RegistrySettingsValues) {
    const material = settings.REGISTRY_SECRETS_KEY || this.keyFile(settings.HKS_DATA_DIR);
    this.key = createHash('sha256').update(material, 'utf8').digest();
  }

  seal(values: Record<string, string>): SealedValues {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const data = Buffer.concat([cipher.update(JSON.stringify(values), 'utf8'), cipher.final()]);
    return { v: 1, iv: iv.toString('base64'), tag: cipher.getAuthTag().toString('base64'), data: data.toString('base64') };
  }

  open(sealed: SealedValues, name: string): Record<string, string> {
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(sealed.iv, 'base64'));
      decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
      const text = Buffer.concat([decipher.update(Buffer.from(sealed.data, 'base64')), decipher.final()]).toString('utf8');
      return JSON.parse(text) as Record<string, string>;
    } catch {
      throw new Error(`secret "${name}" cannot be decrypted: REGISTRY_SECRETS_KEY differs from the key it was stored with`);
    }
  }

  private keyFile(dataDir: string): string {
    const file = path.resolve(dataDir, 'registry', 'secrets.key');
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const key = randomBytes(32).toString('base64');
    try {
      writeFileSync(file, key + '\n', { mode: 0o600, flag: 'wx' });
      this.logger.warn(`REGISTRY_SECRETS_KEY is not set; generated a key in ${file} (set it when replicas do not share this directory)`);
      return key;
    } catch (err) {
      // Another replica wrote it first: use theirs.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(file, 'utf8').trim();
      throw err;
    }
  }
}
