/** What ioredis needs to connect, read from REDIS_URL (ioredis and BullMQ both take these options). */
export interface RedisConnectionOptions {
  host: string;
  port: number;
  username?: string;
  password?: string;
  db: number;
  /** Set for rediss:// URLs: TLS, checked against the URL's host name. */
  tls?: { servername: string };
}

/**
 * REDIS_URL -> connection options: redis:// or rediss:// (TLS), user and password percent-decoded (a password alone
 * as `redis://:secret@host`), the database number as the path (`/2`). Explicit, so every connection the platform
 * makes (BullMQ queues and workers, the scheduler) honours the same credentials, whatever a library would guess.
 */
export function redisConnectionOptions(raw: string): RedisConnectionOptions {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error(`REDIS_URL=${redacted(raw)} is not a URL`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new Error(`REDIS_URL=${redacted(raw)} must start with redis:// or rediss:// (TLS)`);
  }
  const dbText = url.pathname.replace(/^\/+|\/+$/g, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0 || !/^\d*$/.test(dbText)) {
    throw new Error(`REDIS_URL=${redacted(raw)}: the path names the database and must be a number such as /0, not "/${dbText}"`);
  }
  const host = url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1';
  const options: RedisConnectionOptions = { host, port: url.port ? Number(url.port) : 6379, db };
  if (url.username) options.username = decodeURIComponent(url.username);
  if (url.password) options.password = decodeURIComponent(url.password);
  if (url.protocol === 'rediss:') options.tls = { servername: host };
  return options;
}

/** The URL with its password replaced, for messages. */
export function redacted(raw: string): string {
  return raw.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@');
}
