import type { IncomingMessage } from 'http';
import { ErrorBody, isValidUtf8, jsonBytesProblem, MAX_JSON_DEPTH, textProblem } from '@platform/contracts';

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

/** express.text's `verify`: text must be UTF-8 without NUL (which no service stores), else 400. */
export function verifyTextBody(_req: IncomingMessage, _res: unknown, buf: Buffer): void {
  const problem = isValidUtf8(buf) ? textProblem(buf.toString('utf8')) : 'the request body is not valid UTF-8';
  if (problem) throw Object.assign(new Error(problem.charAt(0).toUpperCase() + problem.slice(1)), { status: 400, type: 'entity.verify.failed' });
}

/** The answer to a body the parser refused: not JSON, too large, or unreadable (charset, encoding, verify). */
export function bodyProblem(err: { type?: string; message?: string }, maxBytes: number): ErrorBody {
  if (err.type === 'entity.parse.failed') return { statusCode: 400, error: 'Bad Request', message: 'The request body is not valid JSON' };
  if (err.type === 'entity.too.large') return { statusCode: 413, error: 'Payload Too Large', message: `The request body is larger than ${maxBytes} bytes` };
  // An unsupported charset or content encoding (body-parser's 415) is bad input like any other unreadable body:
  // one documented status, with the reason in the message.
  return { statusCode: 400, error: 'Bad Request', message: `The request body cannot be read: ${err.message}` };
}
