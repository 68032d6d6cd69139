import type { IncomingHttpHeaders } from 'http';
import { InternalInvocationHeaders, isUuid } from '@platform/contracts';

const POSITIVE = /^[1-9]\d{0,8}$/;

/** What the deployer says about the attempt it sends: the async invocation's id and the attempt's number. */
export interface AttemptFacts {
  invocationId?: string;
  attempt?: number;
}

/**
 * Takes the deployer's x-hks-* request headers off the request (the function never sees them) and returns what they
 * said. Only called for a caller that holds the internal credential; a value that is not a UUID (or a positive
 * whole number) is dropped, and the invocation gets its own id as usual.
 */
export function takeAttemptFacts(headers: IncomingHttpHeaders): AttemptFacts {
  const id = headers[InternalInvocationHeaders.InvocationId];
  const attempt = headers[InternalInvocationHeaders.Attempt];
  delete headers[InternalInvocationHeaders.InvocationId];
  delete headers[InternalInvocationHeaders.Attempt];
  const facts: AttemptFacts = {};
  if (isUuid(id)) facts.invocationId = id.toLowerCase();
  if (typeof attempt === 'string' && POSITIVE.test(attempt)) facts.attempt = Number(attempt);
  return facts;
}
