import {
  AcceptInvocationCommand,
  CALLBACK_URL_MAX_LENGTH,
  IDEMPOTENCY_KEY_MAX_LENGTH,
  INVOCATION_SOURCES,
  isUuid,
  storedPathProblem,
  ValidationError,
} from '@platform/contracts';

const SOURCES = new Set<string>(INVOCATION_SOURCES);
const METHOD = /^[A-Z]{1,16}$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** Checks an AcceptInvocationCommand (an interface in the contracts: the gateway builds it); names every problem. */
export function acceptCommand(payload: unknown): AcceptInvocationCommand {
  const problems: string[] = [];
  const p = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  if (typeof p.functionId !== 'string' || !isUuid(p.functionId)) problems.push('functionId must be a function id (UUID)');
  const r = (typeof p.request === 'object' && p.request !== null ? p.request : null) as Record<string, unknown> | null;
  if (!r) problems.push('request is required: the stored request (style, method, path, query, headers, body)');
  else {
    if (r.style !== 'data' && r.style !== 'http') problems.push('request.style must be "data" or "http"');
    if (typeof r.method !== 'string' || !METHOD.test(r.method.toUpperCase())) problems.push('request.method must be an HTTP method, e.g. POST');
    const pathProblem = typeof r.path === 'string' ? storedPathProblem(r.path) : 'the path after the function name must be a string';
    if (pathProblem) problems.push(`request.path: ${pathProblem}`);
    if (typeof r.query !== 'string') problems.push('request.query must be the raw query string ("" when none)');
    const h = r.headers;
    if (typeof h !== 'object' || h === null || Array.isArray(h) || Object.values(h).some((v) => typeof v !== 'string')) {
      problems.push('request.headers must be an object of string values');
    }
    if (typeof r.body !== 'string' || !BASE64.test(r.body)) problems.push('request.body must be base64');
  }
  if (p.callbackUrl !== undefined) {
    let ok = false;
    try {
      const url = new URL(String(p.callbackUrl));
      ok = (url.protocol === 'http:' || url.protocol === 'https:') && String(p.callbackUrl).length <= CALLBACK_URL_MAX_LENGTH;
    } catch {
      ok = false;
    }
    if (!ok) problems.push(`callbackUrl must be an absolute http or https URL of at most ${CALLBACK_URL_MAX_LENGTH} characters`);
  }
  if (p.idempotencyKey !== undefined && (typeof p.idempotencyKey !== 'string' || !/^[\x20-\x7e]{1,255}$/.test(p.idempotencyKey))) {
    problems.push(`idempotencyKey must be 1 to ${IDEMPOTENCY_KEY_MAX_LENGTH} printable ASCII characters`);
  }
  if (typeof p.source !== 'string' || !SOURCES.has(p.source)) problems.push(`source must be one of ${[...SOURCES].join(', ')}`);
  if (p.replayOf !== undefined && (typeof p.replayOf !== 'string' || !isUuid(p.replayOf))) problems.push('replayOf must be an invocation id (UUID)');
  if (p.version !== undefined && (!Number.isInteger(p.version) || (p.version as number) < 1)) problems.push('version must be a whole number from 1');
  if (p.retry !== undefined || p.trigger !== undefined) {
    problems.push("retry and trigger are set by the deployer's own event sources, not in an accept request");
  }
  if (problems.length) throw new ValidationError(problems.join('; '), problems);
  return p as unknown as AcceptInvocationCommand;
}
