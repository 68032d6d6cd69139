import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { createPrivateKey, createPublicKey, generateKeyPairSync, KeyObject, sign } from 'crypto';
import { DataSource } from 'typeorm';
import { CallbackKeyView } from '@platform/contracts';

/**
 * The ed25519 key pair callbacks are signed with (Standard Webhooks "v1a"). The first deployer to start stores
 * one (INSERT ... ON CONFLICT DO NOTHING) and every replica then reads the same row, so a receiver verifies every
 * callback with one public key. The private key never leaves this class.
 */
@Injectable()
export class CallbackKeys {
  private loaded?: Promise<{ privateKey: KeyObject; view: CallbackKeyView }>;

  constructor(@InjectDataSource() private readonly ds: DataSource) {}

  private load(): Promise<{ privateKey: KeyObject; view: CallbackKeyView }> {
    this.loaded ??= this.readOrCreate().catch((err) => {
      this.loaded = undefined;
      throw err;
    });
    return this.loaded;
  }

  private async readOrCreate(): Promise<{ privateKey: KeyObject; view: CallbackKeyView }> {
    const pair = generateKeyPairSync('ed25519');
    await this.ds.query(
      `INSERT INTO "deployer"."callback_keys" ("id", "algorithm", "public_key", "private_key") VALUES (1, 'ed25519', $1, $2) ON CONFLICT ("id") DO NOTHING`,
      [pair.publicKey.export({ type: 'spki', format: 'pem' }), pair.privateKey.export({ type: 'pkcs8', format: 'pem' })],
    );
    const [row] = (await this.ds.query(`SELECT "public_key", "private_key" FROM "deployer"."callback_keys" WHERE "id" = 1`)) as Array<{
      public_key: string;
      private_key: string;
    }>;
    const publicKey = createPublicKey(row.public_key);
    const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
    return {
      privateKey: createPrivateKey(row.private_key),
      view: {
        algorithm: 'ed25519',
        publicKey: raw.toString('base64'),
        publicKeyPem: row.public_key,
        scheme: 'webhook-signature: v1a,<base64 ed25519 signature of "{webhook-id}.{webhook-timestamp}.{body}">',
      },
    };
  }

  async publicKey(): Promise<CallbackKeyView> {
    return (await this.load()).view;
  }

  /** The webhook-signature header's value for this message. */
  async signature(id: string, timestamp: number, body: string): Promise<string> {
    const { privateKey } = await this.load();
    return `v1a,${sign(null, Buffer.from(`${id}.${timestamp}.${body}`), privateKey).toString('base64')}`;
  }
}
