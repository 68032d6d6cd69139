import { AttemptOutcome, ConflictError, InvocationAttempt, InvocationResult, InvocationView, PlatformEvent, StoredRequest } from '@platform/contracts';
import { InvocationEntity } from './invocation.entity';

/** The function's logs of each attempt, by attempt number (from the event store); null when it did not answer. */
export type AttemptLogs = Map<number, string> | null;

export function toInvocationView(row: InvocationEntity, logs: AttemptLogs, withBody = true): InvocationView {
  return {
    id: row.id,
    functionId: row.functionId,
    label: row.label,
    async: true,
    status: row.status,
    source: row.source,
    version: row.version ?? row.pinnedVersion,
    maxAttempts: row.maxAttempts,
    attempts: row.attemptLog.map((a): InvocationAttempt => ({ ...a, logs: logs?.get(a.number) ?? null })),
    result: row.result,
    error: row.error,
    nextAttemptAt: row.status === 'queued' ? row.dueAt.toISOString() : null,
    acceptedAt: row.acceptedAt.toISOString(),
    finishedAt: row.finishedAt?.toISOString() ?? null,
    callback: row.callbackUrl
      ? {
          url: row.callbackUrl,
          status: row.callbackStatus ?? 'pending',
          attempts: row.callbackAttempts,
          lastError: row.callbackLastError,
          deliveredAt: row.callbackDeliveredAt?.toISOString() ?? null,
        }
      : null,
    idempotencyKey: row.idempotencyKey,
    replayOf: row.replayOf,
    request: withBody ? row.request : { ...row.request, body: '' },
  };
}

/** Logs of each attempt from an invocation's result events (metadata.attempt; an event without one is attempt 1). */
export function logsByAttempt(events: PlatformEvent[]): Map<number, string> {
  const logs = new Map<number, string>();
  for (const e of events) {
    if (e.status === 'PENDING') continue;
    const m = e.metadata ?? {};
    const n = Number(m.attempt ?? 1);
    if (typeof m.logs === 'string') logs.set(n, m.logs);
  }
  return logs;
}

/** Headers a replay does not send again: credentials, hop-by-hop ones, and the platform's own. */
const NOT_REPLAYED = new Set([
  'authorization',
  'x-api-key',
  'host',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'content-length',
  'upgrade',
  'te',
  'trailer',
  'proxy-authorization',
  'expect',
]);

const TRUNCATED = /\[truncated: [^\]]*\]$/;

/**
 * The request a recorded invocation ran with, rebuilt from its event's payload (the handler's input): data style
 * POSTs {"data": payload}; http style takes the payload's method, path, query, headers and body. A payload the
 * invoker cut (over 64 KiB) cannot be replayed.
 */
export function requestFromEvent(e: PlatformEvent): StoredRequest {
  if (typeof e.payload === 'string' && TRUNCATED.test(e.payload)) {
    throw new ConflictError(`invocation ${e.invocationId} cannot be replayed: its stored request was cut (it was larger than the event store keeps)`);
  }
  const trigger = (e.metadata ?? {}).trigger;
  if (trigger !== 'http') {
    const body = Buffer.from(JSON.stringify({ data: e.payload ?? null }));
    return { style: 'data', method: 'POST', path: '/', query: '', headers: { 'content-type': 'application/json' }, body: body.toString('base64') };
  }
  const p = (e.payload ?? {}) as {
    method?: string;
    path?: string;
    query?: Record<string, string | string[]>;
    headers?: Record<string, unknown>;
    body?: string;
    isBase64Encoded?: boolean;
  };
  const query = new URLSearchParams();
  for (const [k, v] of Object.entries(p.query ?? {})) for (const one of Array.isArray(v) ? v : [v]) query.append(k, String(one));
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.headers ?? {})) {
    const name = k.toLowerCase();
    if (typeof v === 'string' && !NOT_REPLAYED.has(name) && !name.startsWith('x-hks-')) headers[name] = v;
  }
  const body = typeof p.body === 'string' ? Buffer.from(p.body, p.isBase64Encoded ? 'base64' : 'utf8') : Buffer.alloc(0);
  return {
    style: 'http',
    method: p.method ?? 'GET',
    path: p.path ?? '/',
    query: query.toString(),
    headers,
    body: body.toString('base64'),
  };
}

function resultFromEvent(e: PlatformEvent): InvocationResult | null {
  const r = e.response as Partial<InvocationResult> | null;
  if (r && typeof r === 'object' && typeof r.statusCode === 'number' && typeof r.body === 'string') {
    return { statusCode: r.statusCode, headers: r.headers ?? {}, body: r.body, isBase64Encoded: !!r.isBase64Encoded };
  }
  if (e.response === null || e.response === undefined) return null;
  return {
    statusCode: Number((e.metadata ?? {}).statusCode ?? 200),
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(e.response),
    isBase64Encoded: false,
  };
}

/** How an attempt ended, from its result event. */
function outcomeOfEvent(result: PlatformEvent): AttemptOutcome {
  const meta = result.metadata ?? {};
  const statusCode = typeof meta.statusCode === 'number' ? meta.statusCode : null;
  if (result.status === 'SUCCESS') return 'succeeded';
  if (meta.reason === 'timeout') return 'timeout';
  return statusCode !== null && statusCode < 500 ? '4xx' : 'error';
}

/** What the invoker recorded of one attempt of an invocation: its end, 'running' (only its start), or nothing. */
export type RecordedAttempt =
  { outcome: AttemptOutcome; statusCode: number | null; error: string | null; result: InvocationResult | null; durationMs: number | null } | 'running' | null;

export function recordedAttempt(events: PlatformEvent[], number: number): RecordedAttempt {
  const of = events.filter((e) => Number((e.metadata ?? {}).attempt ?? 1) === number);
  const result = of.find((e) => e.status !== 'PENDING');
  if (!result) return of.length ? 'running' : null;
  const statusCode = (result.metadata ?? {}).statusCode;
  return {
    outcome: outcomeOfEvent(result),
    statusCode: typeof statusCode === 'number' ? statusCode : null,
    error: result.error ?? null,
    result: resultFromEvent(result),
    durationMs: result.processingTimeMs ?? null,
  };
}

/** A synchronous invocation as its events tell it: one attempt, succeeded / failed / running. */
export function viewFromEvents(events: PlatformEvent[]): InvocationView | null {
  const result = events.find((e) => e.status !== 'PENDING');
  const first = result ?? events[0];
  if (!first) return null;
  const meta = first.metadata ?? {};
  const status = !result ? 'running' : result.status === 'SUCCESS' ? 'succeeded' : 'failed';
  const pending = events.find((e) => e.status === 'PENDING');
  const endedAt = result ? result.timestamp : null;
  const durationMs = result?.processingTimeMs ?? null;
  const startedAt = pending?.timestamp ?? (endedAt && durationMs !== null ? new Date(new Date(endedAt).getTime() - durationMs).toISOString() : first.timestamp);
  let request: StoredRequest;
  try {
    request = requestFromEvent(first);
  } catch {
    request = { style: 'data', method: 'POST', path: '/', query: '', headers: {}, body: '' };
  }
  const statusCode = typeof meta.statusCode === 'number' ? meta.statusCode : null;
  return {
    id: first.invocationId!,
    functionId: first.functionId ?? '',
    label: first.functionLabel ?? '',
    async: false,
    status,
    source: typeof meta.trigger === 'string' ? meta.trigger : 'api',
    version: typeof meta.version === 'number' ? meta.version : null,
    maxAttempts: 1,
    attempts: [
      {
        number: 1,
        outcome: result ? outcomeOfEvent(result) : null,
        startedAt,
        endedAt,
        durationMs,
        statusCode,
        error: result?.error ?? null,
        logs: typeof (result?.metadata ?? {}).logs === 'string' ? (result!.metadata!.logs as string) : null,
      },
    ],
    result: result ? resultFromEvent(result) : null,
    error: result?.error ?? null,
    nextAttemptAt: null,
    acceptedAt: startedAt,
    finishedAt: endedAt,
    callback: null,
    idempotencyKey: null,
    replayOf: null,
    request,
  };
}
