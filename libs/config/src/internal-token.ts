import { Inject, Injectable } from '@nestjs/common';
import { createHmac } from 'crypto';
import { INTERNAL_TOKEN_HEADER, internalTokenMatches } from '@platform/contracts';
import { resolveInternalToken } from './internal-token-file';
import { SETTINGS } from './tokens';

export { INTERNAL_TOKEN_FILE, resolveInternalToken } from './internal-token-file';

/** The platform's internal credential, resolved once at start-up: what callers send and what internal routes check. */
@Injectable()
export class InternalCredential {
  private readonly token: string;

  constructor(@Inject(SETTINGS) settings: { HKS_INTERNAL_TOKEN?: string; HKS_DATA_DIR: string }) {
    this.token = resolveInternalToken(settings);
  }

  /** The header to add to a request to an internal route. */
  header(): Record<string, string> {
    return { [INTERNAL_TOKEN_HEADER]: this.token };
  }

  /**
   * 32 bytes of key material for `purpose`, the same in every process holding this credential (HMAC-SHA256 of the
   * purpose under it): a key the replicas share without storing it anywhere, which changes when the credential does.
   */
  derive(purpose: string): Buffer {
    return createHmac('sha256', this.token).update(purpose, 'utf8').digest();
  }

  /** Whether a request's header value is the credential (constant time). */
  matches(given: string | string[] | undefined): boolean {
    return internalTokenMatches(this.token, given);
  }
}
