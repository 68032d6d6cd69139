import type { IncomingMessage } from 'http';
import { jsonBytesProblem, MAX_JSON_DEPTH } from '@platform/contracts';

/**
 * Why the path or query of a request is refused before any handler sees it: a percent-encoding that does not
 * decode to UTF-8, or a NUL character (which no service stores and Postgres rejects). Undefined when it is fine.
 */
export function urlProblem(url: string): string | undefined {
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? '' : url.slice(q + 1);
  const pathBad = partProblem(path, 'the path');
  if (pathBad) return pathBad;
  for (const pair of query.split('&')) {
    const bad = partProblem(pair.replace(/\+/g, ' '), 'the query string');
    if (bad) return bad;
  }
  return undefined;
}

function partProblem(text: string, what: string): string | undefined {
  if (!text) return undefined;
  let decoded: string;
  try {
    decoded = decodeURIComponent(text);
  } catch {
    return `${what} has an invalid percent-encoding or is not UTF-8`;
  }
  if (decoded.includes('\u0000')) return `${what} contains a NUL character`;
  return undefined;
}

/** express.json's `verify`: refuses bodies nested deeper than MAX_JSON_DEPTH, with NUL or invalid UTF-8, as 400. */
export function verifyJsonBody(_req: IncomingMessage, _res: unknown, buf: Buffer): void {
  const problem = jsonBytesProblem(buf, MAX_JSON_DEPTH);
  if (problem) throw Object.assign(new Error(problem.charAt(0).toUpperCase() + problem.slice(1)), { status: 400, type: 'entity.verify.failed' });
}
