import { Injectable } from '@nestjs/common';
import { createPrivateKey, createPublicKey, KeyObject, sign } from 'crypto';
import { CallbackKeyView } from '@platform/contracts';
import { InternalCredential } from '@platform/config';

/** PKCS#8 DER of an ed25519 private key, up to its 32-byte seed (RFC 8410). */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');
const PURPOSE = 'hks callback signing key v1';

/**
 * The ed25519 key pair callbacks are signed with (Standard Webhooks "v1a"). Its seed is derived from the platform's
 * internal credential (InternalCredential.derive), so every deployer replica signs with the same key and the private
 * key is stored nowhere: not in the database, not on disk. Changing HKS_INTERNAL_TOKEN changes the key (receivers
 * then need the new public key). The private key never leaves this class.
 */
@Injectable()
export class CallbackKeys {
  private readonly privateKey: KeyObject;
  private readonly view: CallbackKeyView;

  constructor(credential: InternalCredential) {
    this.privateKey = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, credential.derive(PURPOSE)]), format: 'der', type: 'pkcs8' });
    const publicKey = createPublicKey(this.privateKey);
    this.view = {
      algorithm: 'ed25519',
      publicKey: Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url').toString('base64'),
      publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string,
      scheme: 'webhook-signature: v1a,<base64 ed25519 signature of "{webhook-id}.{webhook-timestamp}.{body}">',
    };
  }

  publicKey(): Promise<CallbackKeyView> {
    return Promise.resolve(this.view);
  }

  /** The webhook-signature header's value for this message. */
  signature(id: string, timestamp: number, body: string): Promise<string> {
    return Promise.resolve(`v1a,${sign(null, Buffer.from(`${id}.${timestamp}.${body}`), this.privateKey).toString('base64')}`);
  }
}
