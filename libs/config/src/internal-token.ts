import { Inject, Injectable } from '@nestjs/common';
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

  /** Whether a request's header value is the credential (constant time). */
  matches(given: string | string[] | undefined): boolean {
    return internalTokenMatches(this.token, given);
  }
}
