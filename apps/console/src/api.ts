/** The console's client of the public API: same origin, the key the user typed (sessionStorage), errors as thrown ApiError. */

const KEY_STORAGE = 'hks.apiKey';

export function storedKey(): string | null {
  return sessionStorage.getItem(KEY_STORAGE);
}
export function storeKey(key: string | null): void {
  if (key) sessionStorage.setItem(KEY_STORAGE, key);
  else sessionStorage.removeItem(KEY_STORAGE);
}

/** An answer of the API that is not 2xx: its status and the platform's `message`, shown where the call was made. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Listeners told when the API refuses the key (401), so the app goes back to the login screen. */
const unauthorized = new Set<() => void>();
export function onUnauthorized(listener: () => void): () => void {
  unauthorized.add(listener);
  return () => unauthorized.delete(listener);
}

function authHeaders(key = storedKey()): Record<string, string> {
  return key ? { 'x-api-key': key } : {};
}

function errorMessage(status: number, body: unknown, text: string): string {
  if (body && typeof body === 'object' && 'message' in body) {
    const m = (body as { message: unknown }).message;
    if (Array.isArray(m)) return m.join('; ');
    if (typeof m === 'string') return m;
  }
  return text ? `HTTP ${status}: ${text.slice(0, 300)}` : `HTTP ${status}`;
}

export async function api<T>(method: string, path: string, body?: unknown, key?: string): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', ...authHeaders(key) };
  if (body !== undefined) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (err) {
    throw new ApiError(0, `The gateway could not be reached: ${(err as Error).message}`, null);
  }
  const text = await res.text();
  let parsed: unknown = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  if (!res.ok) {
    if (res.status === 401 && key === undefined) unauthorized.forEach((l) => l());
    throw new ApiError(res.status, errorMessage(res.status, parsed, text), parsed);
  }
  return parsed as T;
}

export interface InvokeAnswer {
  status: number;
  headers: Array<[string, string]>;
  body: string;
  durationMs: number;
}

/** One invocation through the invoke API, timed in the browser; any status is an answer, not an error. */
export async function invoke(functionId: string, method: string, payload: string): Promise<InvokeAnswer> {
  const started = performance.now();
  const res = await fetch(`/api/v1/functions/invoke/${encodeURIComponent(functionId)}`, {
    method,
    headers: { ...authHeaders(), ...(method === 'GET' ? {} : { 'content-type': 'application/json' }) },
    body: method === 'GET' ? undefined : payload,
  });
  const body = await res.text();
  return { status: res.status, headers: [...res.headers.entries()], body, durationMs: performance.now() - started };
}

export interface StreamedEvent {
  id: string;
  type: string;
  time: string;
  subject?: string;
  functionid?: string;
  invocationid?: string;
  status: 'PENDING' | 'SUCCESS' | 'FAILURE';
  source: string;
  data: {
    type?: string;
    payload: unknown;
    response: unknown;
    processingTimeMs: number | null;
    error: string | null;
    metadata: Record<string, unknown> | null;
  };
}

/**
 * GET /api/v3/events/stream read with fetch (EventSource cannot send the key header): each `data:` frame is a
 * CloudEvent. Reconnects after a drop until `signal` aborts; `onState` says whether it is connected.
 */
export async function streamEvents(
  query: Record<string, string>,
  onEvent: (e: StreamedEvent) => void,
  onState: (state: 'connecting' | 'open' | 'closed', error?: string) => void,
  signal: AbortSignal,
): Promise<void> {
  const qs = new URLSearchParams(Object.entries(query).filter(([, v]) => v !== '')).toString();
  while (!signal.aborted) {
    onState('connecting');
    try {
      const res = await fetch(`/api/v3/events/stream${qs ? `?${qs}` : ''}`, { headers: { accept: 'text/event-stream', ...authHeaders() }, signal });
      if (!res.ok || !res.body) {
        const text = await res.text();
        let parsed: unknown = null;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = null;
        }
        onState('closed', errorMessage(res.status, parsed, text));
        if (res.status === 401) unauthorized.forEach((l) => l());
        if (res.status < 500) return;
      } else {
        onState('open');
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = '';
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end: number;
          while ((end = buffer.indexOf('\n\n')) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = frame
              .split('\n')
              .filter((l) => l.startsWith('data:'))
              .map((l) => l.slice(5).replace(/^ /, ''))
              .join('\n');
            if (!data) continue;
            try {
              onEvent(JSON.parse(data) as StreamedEvent);
            } catch {
              // a frame that is not JSON is not an event: skip it
            }
          }
        }
        onState('closed', 'the stream ended; reconnecting');
      }
    } catch (err) {
      if (signal.aborted) return;
      onState('closed', (err as Error).message);
    }
    await new Promise((r) => setTimeout(r, 2000));
  }
}

// The shapes the console reads (the API's FunctionView, BuildView, ... as the OpenAPI document gives them).
export interface Trigger {
  type: string;
  [field: string]: unknown;
}
export interface FunctionConfig {
  env?: Record<string, string>;
  secrets?: Array<{ env: string; secret: string; key?: string }>;
  resources?: { memoryMb?: number; timeoutMs?: number; cpu?: string; [k: string]: unknown };
  scaling?: { minInstances?: number; maxInstances?: number; concurrency?: number; idleTimeoutMs?: number; [k: string]: unknown };
  triggers?: Trigger[];
  [k: string]: unknown;
}
export interface FunctionView {
  id: string;
  label: string;
  description: string | null;
  runtime: string;
  handler: string | null;
  files: Record<string, string> | null;
  config: FunctionConfig;
  status: string;
  statusReason: string | null;
  version: number;
  build: { id: string; status: string; version?: number; error: string | null } | null;
  invokeUrl: string;
  warnings: string[];
}
export interface FunctionPage {
  items: FunctionView[];
  total: number;
}
export interface BuildView {
  id: string;
  version: number;
  status: string;
  log: string;
  error: string | null;
  cached: boolean;
  startedAt: string | null;
  finishedAt: string | null;
}
export interface Percentiles {
  p50: number | null;
  p90: number | null;
  p95: number | null;
  p99: number | null;
  avg: number | null;
  max: number | null;
}
export interface InvocationStats {
  invocations: number;
  successes: number;
  failures: number;
  errorRate: number;
  coldStarts: number;
  durationMs: Percentiles;
  series?: Array<{ start: string; invocations: number; failures: number; p50: number | null; p95: number | null }>;
}
export interface VersionView {
  version: number;
  runtime: string;
  sourceDigest: string;
  buildStatus: string | null;
  buildError: string | null;
  createdAt?: string;
}
export interface TrafficView {
  version: number;
  aliases: Record<string, number>;
  splits: Array<{ version: number; percent: number }>;
  sticky: boolean;
  versions: number[];
}
