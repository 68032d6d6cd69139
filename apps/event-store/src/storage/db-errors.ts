import { UnavailableError } from '@platform/contracts';

function code(err: unknown): string | undefined {
  const c = (err as { code?: unknown })?.code;
  return typeof c === 'string' ? c : undefined;
}

/**
 * Postgres refused the data itself (SQLSTATE class 22 data exception, 23 constraint, 54 limits):
 * retrying cannot help. Anything else (connection lost, database closed, lock or serialization
 * trouble) can, and is left to the caller's retry.
 */
export function isDataError(err: unknown): boolean {
  return /^(22|23|54)/.test(code(err) ?? '');
}

/** The database cannot be reached or is not accepting work right now. */
export function isUnavailable(err: unknown): boolean {
  const c = code(err) ?? '';
  return (
    /^(08|53|57P|55000$|3D000$)/.test(c) ||
    ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND', 'EPIPE'].includes(c) ||
    /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test((err as Error)?.message ?? '')
  );
}

/** Runs a read for an RPC; an unreachable database becomes a 503 the caller can retry. */
export async function readingDatabase<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (err) {
    if (isUnavailable(err)) throw new UnavailableError(`the event database is unavailable (${(err as Error).message}); try again shortly`);
    throw err;
  }
}
