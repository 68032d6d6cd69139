import { ErrorBody } from '@platform/contracts';

/** The platform's own dependencies, named the way an operator knows them. */
export type Dependency = 'Postgres' | 'RabbitMQ' | 'Redis';

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CONNECTION_MESSAGES =
  /connection terminated|connection timeout|timeout exceeded when trying to connect|connection error|connection is closed|connection closed|stream isn't writeable|enableOfflineQueue|max retries per request|socket closed|disconnected from rmq|not connected|channel closed|ECONNREFUSED|ECONNRESET/i;
/** Postgres SQLSTATE classes that mean "the server is not there or will not take us now". */
const PG_UNAVAILABLE = /^(08|57P0[1-3]|53300|53400)/;
/** Postgres refusing a character of the request's text (NUL, or not representable): the caller's fault. */
const PG_BAD_TEXT = new Set(['22021', '22P05']);

/**
 * host:port -> dependency, so a bare socket error (`connect ECONNRESET 127.0.0.1:5432`, no library frame in its
 * stack) is still named. The defaults, plus what `registerDependencies` learns from the service's settings.
 */
const endpoints = new Map<string, Dependency>([
  ['5432', 'Postgres'],
  ['5672', 'RabbitMQ'],
  ['6379', 'Redis'],
]);

/** Called once at start-up (startService) with the URLs the service was configured with. */
export function registerDependencies(urls: Partial<Record<Dependency, string>>): void {
  for (const [dependency, url] of Object.entries(urls) as Array<[Dependency, string | undefined]>) {
    if (!url) continue;
    try {
      const u = new URL(url);
      const defaults: Record<string, string> = { 'postgres:': '5432', 'postgresql:': '5432', 'amqp:': '5672', 'amqps:': '5671', 'redis:': '6379' };
      endpoints.set(u.port || defaults[u.protocol] || '', dependency);
    } catch {
      // an invalid URL was refused by the settings already
    }
  }
}

interface ErrorLike {
  /** Set by the library that knows where the error came from (libs/persistence for pool connections). */
  dependency?: Dependency;
  port?: number;
  name?: string;
  message?: string;
  code?: string;
  stack?: string;
  driverError?: unknown;
  cause?: unknown;
}

function chain(err: unknown): ErrorLike[] {
  const out: ErrorLike[] = [];
  let e = err as ErrorLike | undefined;
  while (e && typeof e === 'object' && out.length < 5 && !out.includes(e)) {
    out.push(e);
    e = (e.driverError ?? e.cause) as ErrorLike | undefined;
  }
  return out;
}

/** Which dependency an error comes from, by the library that threw it. */
function sourceOf(errs: ErrorLike[]): Dependency | undefined {
  for (const e of errs) {
    if (e.dependency) return e.dependency;
    const port = e.port !== undefined ? String(e.port) : /\b(?:\d{1,3}(?:\.\d{1,3}){3}|localhost|\[[0-9a-f:]+\]):(\d{2,5})\b/i.exec(e.message ?? '')?.[1];
    const byPort = port ? endpoints.get(port) : undefined;
    if (byPort) return byPort;
    if (e.name === 'QueryFailedError' || e.name === 'DriverError' || /typeorm|[/\\]pg(-pool)?[/\\]/.test(e.stack ?? '')) return 'Postgres';
    if (e.name === 'MaxRetriesPerRequestError' || /[/\\](ioredis|bullmq)[/\\]/.test(e.stack ?? '')) return 'Redis';
    if (/[/\\](amqplib|amqp-connection-manager)[/\\]|ClientRMQ|ServerRMQ/.test(e.stack ?? '')) return 'RabbitMQ';
  }
  return undefined;
}

/**
 * The answer for an error that comes from a dependency rather than from the request: 503 naming the dependency when
 * it cannot be reached, 400 when Postgres refused a character of the request's text. Undefined for anything else.
 */
export function dependencyErrorBody(err: unknown): ErrorBody | undefined {
  const errs = chain(err);
  if (!errs.length) return undefined;
  const pgCode = errs.map((e) => e.code).find((c) => typeof c === 'string' && /^[0-9A-Z]{5}$/.test(c));
  if (pgCode && PG_BAD_TEXT.has(pgCode)) {
    return { statusCode: 400, error: 'Bad Request', message: 'The request contains text that cannot be stored (a NUL character or invalid UTF-8)' };
  }
  const unreachable = errs.some(
    (e) => NETWORK_CODES.has(e.code ?? '') || (e.code !== undefined && PG_UNAVAILABLE.test(e.code)) || CONNECTION_MESSAGES.test(e.message ?? ''),
  );
  if (!unreachable) return undefined;
  const dependency = sourceOf(errs);
  if (!dependency) return undefined;
  return unavailable(dependency, errs[errs.length - 1].message ?? errs[0].message ?? 'unreachable');
}

export function unavailable(dependency: string, reason: string): ErrorBody {
  return { statusCode: 503, error: 'Service Unavailable', message: `${dependency} is unavailable (${reason}); try again shortly` };
}
