import type { IncomingMessage } from 'http';
import { createHash, timingSafeEqual } from 'crypto';
import { ErrorBody } from '@platform/contracts';

export type KeyCheck = { ok: true; key: string | undefined } | { ok: false; body: ErrorBody };

const MISSING: ErrorBody = {
  statusCode: 401,
  error: 'Unauthorized',
  message: 'An API key is required: send "Authorization: Bearer <key>" or "x-api-key: <key>"',
};
const WRONG: ErrorBody = { statusCode: 401, error: 'Unauthorized', message: 'The API key is not valid' };

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The keys of HKS_API_KEYS, compared by digest in constant time. */
export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(setting: string | undefined) {
    this.digests = (setting ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean)
      .map(digest);
  }

  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** The key a request carries, from Authorization: Bearer or x-api-key. */
  presented(req: IncomingMessage): string | undefined {
    const auth = req.headers.authorization;
    if (auth && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim();
    const header = req.headers['x-api-key'];
    return typeof header === 'string' && header ? header.trim() : undefined;
  }

  isValid(key: string): boolean {
    const d = digest(key);
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(d, known) || ok;
    return ok;
  }

  check(req: IncomingMessage): KeyCheck {
    if (!this.enabled) return { ok: true, key: undefined };
    const key = this.presented(req);
    if (!key) return { ok: false, body: MISSING };
    return this.isValid(key) ? { ok: true, key } : { ok: false, body: WRONG };
  }
}
