/**
 * Configuration read once from the environment at start-up and validated, so a wrong setting fails
 * fast with a message that names it.
 */
export type SettingKind = 'string' | 'int' | 'bool' | 'url' | 'enum';

export interface SettingSpec {
  kind: SettingKind;
  default?: string | number | boolean;
  /** Required settings without a default stop the service when missing. */
  required?: boolean;
  values?: readonly string[];
  /** Range of an int setting, both ends included. */
  min?: number;
  max?: number;
  description: string;
}

/** Why an int is outside the spec's range, or undefined when it is inside (or there is no range). */
function rangeProblem(name: string, n: number, { min, max }: SettingSpec): string | undefined {
  if ((min === undefined || n >= min) && (max === undefined || n <= max)) return undefined;
  if (min !== undefined && max !== undefined) return `${name}=${n} must be from ${min} to ${max}`;
  return min !== undefined ? `${name}=${n} must be at least ${min}` : `${name}=${n} must be at most ${max}`;
}

export type SettingsSchema = Record<string, SettingSpec>;

export type SettingsOf<S extends SettingsSchema> = {
  [K in keyof S]: S[K]['kind'] extends 'int' ? number : S[K]['kind'] extends 'bool' ? boolean : string;
};

export class InvalidSettingsError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
}

export function loadSettings<S extends SettingsSchema>(schema: S, env: NodeJS.ProcessEnv = process.env): SettingsOf<S> {
  const problems: string[] = [];
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(schema)) {
    const raw = env[name];
    if (raw === undefined || raw === '') {
      if (spec.default !== undefined) out[name] = spec.default;
      else if (spec.required) problems.push(`${name} is required: ${spec.description}`);
      else out[name] = undefined;
      continue;
    }
    switch (spec.kind) {
      case 'int': {
        const n = Number(raw);
        const problem = Number.isInteger(n) ? rangeProblem(name, n, spec) : `${name}=${raw} is not a whole number (${spec.description})`;
        if (problem) problems.push(problem);
        else out[name] = n;
        break;
      }
      case 'bool':
        if (!/^(true|false|1|0|yes|no)$/i.test(raw)) problems.push(`${name}=${raw} must be true or false (${spec.description})`);
        else out[name] = /^(true|1|yes)$/i.test(raw);
        break;
      case 'url':
        try {
          new URL(raw);
          out[name] = raw;
        } catch {
          problems.push(`${name}=${raw} is not a URL (${spec.description})`);
        }
        break;
      case 'enum':
        if (!spec.values?.includes(raw)) problems.push(`${name}=${raw} must be one of ${spec.values?.join(', ')} (${spec.description})`);
        else out[name] = raw;
        break;
      default:
        out[name] = raw;
    }
  }
  if (problems.length) throw new InvalidSettingsError(problems);
  return out as SettingsOf<S>;
}

/** Log levels, most severe first (pino's names). */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Settings every service shares. */
export const CommonSettings = {
  HKS_NAMESPACE: {
    kind: 'string',
    default: 'hks',
    description: 'Prefix of RabbitMQ exchanges/queues and Redis keys; separates installations and test runs',
  },
  DATABASE_URL: { kind: 'url', default: 'postgres://root@127.0.0.1:5432/hks', description: 'Postgres connection URL' },
  AMQP_URL: { kind: 'url', default: 'amqp://guest:guest@127.0.0.1:5672', description: 'RabbitMQ connection URL' },
  REDIS_URL: { kind: 'url', default: 'redis://127.0.0.1:6379', description: 'Redis connection URL' },
  HKS_DATA_DIR: { kind: 'string', default: '.hks/data', description: 'Directory for artifacts, event spools and worker code' },
  HKS_INTERNAL_TOKEN: {
    kind: 'string',
    description:
      'Credential the services present to each other on internal HTTP routes (a Kubernetes Secret in a cluster); ' +
      'unset: read from $HKS_DATA_DIR/internal-token, created at the first start',
  },
  RPC_TIMEOUT_MS: { kind: 'int', default: 15000, description: 'How long an RPC call waits for its answer' },
  SHUTDOWN_GRACE_MS: {
    kind: 'int',
    default: 25000,
    description:
      'After SIGTERM, how long a service may drain (it takes no new connection; requests in flight finish, events reach the broker) before it exits anyway; ' +
      "below Kubernetes' terminationGracePeriodSeconds (30 s in deploy/apps)",
  },
  EVENT_PUBLISH_TIMEOUT_MS: {
    kind: 'int',
    default: 5000,
    description: 'How long an event waits for the broker to confirm it before it is spooled to disk for replay',
  },
  LOG_LEVEL: {
    kind: 'enum',
    default: 'info',
    values: LOG_LEVELS,
    description: "Log level of every service; <SERVICE>_LOG_LEVEL (GATEWAY_, INVOKER_, REGISTRY_, BUILDER_, DEPLOYER_, EVENT_STORE_) sets one service's",
  },
  METRICS_TOKEN: {
    kind: 'string',
    description: 'Bearer token that opens GET /metrics on every service, for Prometheus; unset: only the internal credential (HKS_INTERNAL_TOKEN) opens it',
  },
  METRICS_MAX_FUNCTIONS: {
    kind: 'int',
    default: 100,
    min: 1,
    max: 10000,
    description: 'Distinct function label values in metrics per service; functions seen after that are counted under function="other"',
  },
} as const satisfies SettingsSchema;

export type CommonSettingsValues = SettingsOf<typeof CommonSettings>;
