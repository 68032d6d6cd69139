import type { IncomingMessage } from 'http';
import { createHash, timingSafeEqual } from 'crypto';

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/** The key a request carries, from Authorization: Bearer or x-api-key. */
export function presentedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  if (auth && auth.length > 7 && auth.slice(0, 7).toLowerCase() === 'bearer ') return auth.slice(7).trim() || undefined;
  const header = req.headers['x-api-key'];
  return typeof header === 'string' && header.trim() ? header.trim() : undefined;
}

/** The extra admin keys of HKS_API_KEYS (comma-separated), compared by digest in constant time. */
export class EnvironmentKeys {
  private readonly digests: Buffer[];

  constructor(setting: string | undefined) {
    this.digests = (setting ?? '')
      .split(',')
      .map((k) => k.trim())
      .filter(Boolean)
      .map(digest);
  }

  get size(): number {
    return this.digests.length;
  }

  includes(key: string): boolean {
    const d = digest(key);
    let ok = false;
    for (const known of this.digests) ok = timingSafeEqual(d, known) || ok;
    return ok;
  }
}
