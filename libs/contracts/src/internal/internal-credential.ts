import { createHash, timingSafeEqual } from 'crypto';

/**
 * Header that carries the platform's internal credential on every call between services (gateway -> invoker,
 * deployer -> invoker, invoker -> builder). Internal HTTP routes refuse a caller without it.
 */
export const INTERNAL_TOKEN_HEADER = 'x-hks-internal-token';

/** Whether a header value is the internal credential; constant-time, whatever the lengths. */
export function internalTokenMatches(expected: string, given: string | string[] | undefined): boolean {
  if (typeof given !== 'string' || !given || !expected) return false;
  // Equal-length digests, so neither the length nor a common prefix shows in the time taken.
  const a = createHash('sha256').update(expected).digest();
  const b = createHash('sha256').update(given).digest();
  return timingSafeEqual(a, b);
}

/** Why a caller was refused, in the words a 401 answer uses. */
export function internalTokenProblem(given: string | string[] | undefined): string {
  return given === undefined
    ? `this is an internal endpoint of the platform: send the internal credential in the ${INTERNAL_TOKEN_HEADER} header`
    : `the ${INTERNAL_TOKEN_HEADER} header does not carry the platform's internal credential`;
}
