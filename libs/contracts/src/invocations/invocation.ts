/** Response headers the invoker sets on every invocation answer. */
export const InvocationHeaders = {
  InvocationId: 'x-invocation-id',
  ColdStart: 'x-cold-start',
  StartMs: 'x-start-ms',
  DurationMs: 'x-duration-ms',
  /** The version that answered (an alias, a qualifier or a traffic split chose it). */
  FunctionVersion: 'x-function-version',
} as const;

/** Request headers the invoker sets when it forwards an invocation to a function image (Knative). */
export const InvocationRequestHeaders = {
  /** "data": the image's HTTP server (the shim's --http mode) hands the handler the data, not the request. */
  Style: 'x-hks-invocation-style',
  InvocationId: 'x-invocation-id',
} as const;

/** The invoker's HTTP API (the gateway proxies to it; the local deploy driver calls it). */
export const InvokerRoutes = {
  /** ANY /invoke/:functionId[/*] data-style invocation. */
  invoke: (functionId: string) => `/invoke/${encodeURIComponent(functionId)}`,
  /** ANY /http/:functionId/* HTTP-style invocation (http trigger). */
  http: (functionId: string) => `/http/${encodeURIComponent(functionId)}`,
  /** PUT/DELETE /deployments/:functionId: local driver installs or removes a function's pool. */
  deployment: (functionId: string) => `/deployments/${encodeURIComponent(functionId)}`,
  health: '/healthz',
} as const;

/** What a handler sees in HTTP style, and what the invoker sends to a worker. */
export interface InvocationRequest {
  method: string;
  path: string;
  query: Record<string, string | string[]>;
  headers: Record<string, string>;
  /** Raw body text, base64 when `isBase64Encoded`. */
  body: string;
  isBase64Encoded: boolean;
}

/** What a handler returns in HTTP style; any other value becomes a 200 JSON response. */
export interface InvocationResponse {
  statusCode: number;
  headers?: Record<string, string>;
  body?: string;
  isBase64Encoded?: boolean;
}

/** What an invocation's events say made it: the invoke API, /fn/, or the kind of the trigger's event source. */
export const INVOCATION_TRIGGER_KINDS = ['api', 'http', 'queue', 'rabbitmq', 'nats', 'mqtt', 'kafka', 's3', 'schedule', 'event'] as const;
export type InvocationTriggerKind = (typeof INVOCATION_TRIGGER_KINDS)[number];
/** The trigger kinds the deployer names in the x-hks-trigger header (all but api and http, which the invoker knows). */
export const SOURCE_TRIGGER_KINDS: readonly InvocationTriggerKind[] = INVOCATION_TRIGGER_KINDS.filter((k) => k !== 'api' && k !== 'http');

/** Metadata recorded on invocation events. */
export interface InvocationMetadata {
  coldStart: boolean;
  startMs: number | null;
  workerId?: string;
  logs?: string;
  /** What made it: api, http, or the event source of a trigger (queue, nats, mqtt, kafka, s3, schedule, event). */
  trigger?: InvocationTriggerKind;
  version?: number;
  reason?: 'timeout' | 'memory' | 'crash' | 'error' | 'payload-too-large' | 'queue-full' | 'shutdown';
  /** The attempt of an async invocation (1, 2, ...); absent for a synchronous one. */
  attempt?: number;
}
