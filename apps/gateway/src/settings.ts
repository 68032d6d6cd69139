import { CommonSettingsValues, SettingsOf, SettingsSchema } from '@platform/config';

export const GatewaySettings = {
  GATEWAY_PORT: { kind: 'int', default: 8080, description: 'HTTP port of the public API' },
  INVOKER_URL: { kind: 'url', default: 'http://127.0.0.1:8081', description: 'Where invocations are proxied to' },
  HKS_API_KEYS: {
    kind: 'string',
    description: 'Comma-separated extra admin API keys, besides those stored by the registry (HKS_DATA_DIR/admin-key, POST /api/v1/keys)',
  },
  GATEWAY_RATE_LIMIT_RPS: {
    kind: 'int',
    default: 0,
    description: 'Requests per second allowed per API key or client IP (token bucket); 0 turns rate limiting off',
  },
  GATEWAY_RATE_LIMIT_BURST: {
    kind: 'int',
    default: 0,
    description: 'Requests a client may send at once before the rate applies; 0 = one second worth (GATEWAY_RATE_LIMIT_RPS)',
  },
  GATEWAY_RATE_LIMIT_SHARED: {
    kind: 'bool',
    default: true,
    description:
      'Count the rate limit across gateway replicas in Redis (REDIS_URL), so the limit is the same however many run; ' +
      'false = each replica counts alone (the limit is then replicas times the setting). While Redis is down each replica counts alone, with a warning',
  },
  GATEWAY_TRUST_PROXY: {
    kind: 'bool',
    default: false,
    description: 'Take the client IP from X-Forwarded-For, its right-most entry (the one your proxy appends; only behind a proxy that sets it)',
  },
  GATEWAY_MAX_BODY_BYTES: {
    kind: 'int',
    default: 16 * 1024 * 1024,
    description: 'Largest JSON body the API accepts (invocation bodies are streamed and limited by the invoker)',
  },
  GATEWAY_CONSOLE_DIR: {
    kind: 'string',
    description: 'Folder of the built web console served at /console/ (default: dist/apps/console, as npm run build writes it)',
  },
  GATEWAY_ASYNC_MAX_BODY_BYTES: {
    kind: 'int',
    default: 6 * 1024 * 1024,
    description: 'Largest request body an asynchronous invocation may carry (it is stored until it runs): larger ones get 413',
  },
} as const satisfies SettingsSchema;

export type GatewaySettingsValues = SettingsOf<typeof GatewaySettings> & CommonSettingsValues;
