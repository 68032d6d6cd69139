import { httpReason, InvocationMetadata } from '@platform/contracts';

export type FailureReason = NonNullable<InvocationMetadata['reason']>;

/** How an invocation ended: the HTTP answer and what its SUCCESS/FAILURE event records. */
export interface InvocationOutcome {
  statusCode: number;
  headers: Record<string, string | string[]>;
  body: Buffer;
  /** The body is the JSON of a plain value the handler returned (the event records the value itself). */
  json: boolean;
  /** Set when the invocation failed: the event's `error`. */
  error?: string;
  reason?: FailureReason;
  logs: string;
  coldStart: boolean;
  startMs: number | null;
  workerId?: string;
  /** Set when a local pool ran it: how long it waited in the pool's queue for a worker (0 when one was free). */
  queueMs?: number;
}

const JSON_HEADERS = { 'content-type': 'application/json' };

/** A failure answered as ErrorBody JSON. */
export function failure(statusCode: number, message: string, reason?: FailureReason, extra: Partial<InvocationOutcome> = {}): InvocationOutcome {
  return {
    statusCode,
    headers: JSON_HEADERS,
    body: Buffer.from(JSON.stringify({ statusCode, error: httpReason(statusCode), message })),
    json: false,
    error: message,
    reason,
    logs: '',
    coldStart: false,
    startMs: null,
    ...extra,
  };
}
