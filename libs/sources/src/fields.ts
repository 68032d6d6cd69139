/**
 * The config schema of an event source, as data: one list of fields per kind gives the API's validation, the
 * OpenAPI schema, the function.yaml keys and the docs. API keys are camelCase (durations in ms, their key ending in
 * Ms); function.yaml keys are snake_case (durations as "5s", "500ms", "2m").
 */
export type FieldType = 'string' | 'int' | 'duration' | 'bool' | 'enum' | 'strings' | 'json' | 'url' | 'retry';

export interface FieldSpec {
  /** The key in the API (config.triggers[n].<key>). */
  key: string;
  /** The key in function.yaml. */
  yaml: string;
  /** Other function.yaml spellings of the same key (e.g. routing_key for binding_key). */
  yamlAliases?: string[];
  type: FieldType;
  required?: boolean;
  /** int and duration: bounds (durations in ms); string, strings: length bounds of each. */
  min?: number;
  max?: number;
  /** enum: the values allowed; url: the schemes allowed (e.g. ['amqp', 'amqps']). */
  values?: readonly string[];
  /** string: a pattern each value must match, with what it means for the message. */
  pattern?: { regex: RegExp; means: string };
  default?: unknown;
  description: string;
  example?: unknown;
}

const show = (v: unknown) => JSON.stringify(v);

/** Why `value` is not a valid `field` (undefined when it is); `where` names it, e.g. "nats trigger subject". */
export function fieldProblem(field: FieldSpec, value: unknown, where: string): string | undefined {
  const within = (n: number) => (field.min === undefined || n >= field.min) && (field.max === undefined || n <= field.max);
  const range = () => `from ${field.min ?? 0} to ${field.max ?? 'any'}`;
  switch (field.type) {
    case 'string': {
      if (typeof value !== 'string' || value.trim() === '') return `${where} must be a non-empty string`;
      if (field.max !== undefined && value.length > field.max) return `${where} must be at most ${field.max} characters`;
      if (/\p{Cc}/u.test(value)) return `${where} must not contain control characters`;
      if (field.pattern && !field.pattern.regex.test(value)) return `${where} ${show(value)} is not ${field.pattern.means}`;
      return undefined;
    }
    case 'url': {
      if (typeof value !== 'string') return `${where} must be a URL string`;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        return `${where} ${show(redactUrl(value))} is not a URL`;
      }
      const scheme = url.protocol.replace(/:$/, '');
      if (field.values && !field.values.includes(scheme)) return `${where} must be a ${field.values.join(' or ')} URL, not ${scheme}:`;
      return undefined;
    }
    case 'int':
    case 'duration': {
      if (!Number.isInteger(value) || !within(value as number)) {
        return `${where} must be a whole number ${range()}${field.type === 'duration' ? ' (milliseconds)' : ''}`;
      }
      return undefined;
    }
    case 'bool':
      return typeof value === 'boolean' ? undefined : `${where} must be true or false`;
    case 'enum':
      return field.values?.includes(value as string) ? undefined : `${where} must be one of ${field.values?.map((v) => show(v)).join(', ')}`;
    case 'strings': {
      if (!Array.isArray(value) || value.length === 0) return `${where} must be a non-empty list of strings`;
      if (field.max !== undefined && value.length > field.max) return `${where} may list at most ${field.max}`;
      for (const v of value) {
        if (typeof v !== 'string' || v.trim() === '' || /\p{Cc}/u.test(v)) return `${where} must be a list of non-empty strings`;
        if (field.pattern && !field.pattern.regex.test(v)) return `${where}: ${show(v)} is not ${field.pattern.means}`;
      }
      return undefined;
    }
    case 'json':
      return undefined;
    case 'retry':
      return retryProblem(value, where);
  }
}

/** A trigger's `retry`: any of config.retry's fields. */
export const RETRY_FIELDS: FieldSpec[] = [
  { key: 'attempts', yaml: 'attempts', type: 'int', min: 1, max: 50, description: 'Attempts in all, the first included (1: no retry).' },
  {
    key: 'initialDelayMs',
    yaml: 'backoff',
    yamlAliases: ['initial_delay'],
    type: 'duration',
    min: 0,
    max: 3_600_000,
    description: 'Delay before the first retry.',
  },
  {
    key: 'maxDelayMs',
    yaml: 'max_backoff',
    yamlAliases: ['max_delay'],
    type: 'duration',
    min: 0,
    max: 86_400_000,
    description: 'Longest delay between two attempts.',
  },
  { key: 'multiplier', yaml: 'multiplier', type: 'int', min: 1, max: 10, description: 'Growth of the delay from one retry to the next.' },
  { key: 'jitter', yaml: 'jitter', type: 'enum', values: ['full', 'none'], description: '"full": each delay drawn at random up to its value; "none": exact.' },
  {
    key: 'on',
    yaml: 'on',
    type: 'strings',
    pattern: { regex: /^(error|timeout|5xx)$/, means: 'error, timeout or 5xx' },
    description: 'Which failures are retried.',
  },
  {
    key: 'maxAgeMs',
    yaml: 'max_age',
    type: 'duration',
    min: 1000,
    max: 604_800_000,
    description: 'Older than this, a message is not tried again: it goes to the dead letters.',
  },
];

function retryProblem(value: unknown, where: string): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `${where} must be an object such as {"attempts": 5}`;
  const known = new Set(RETRY_FIELDS.map((f) => f.key));
  for (const key of Object.keys(value)) if (!known.has(key)) return `${where} has no field ${show(key)} (${[...known].join(', ')})`;
  for (const f of RETRY_FIELDS) {
    const v = (value as Record<string, unknown>)[f.key];
    // multiplier may be fractional in config.retry
    if (v === undefined) continue;
    if (f.key === 'multiplier') {
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 1 || v > 10) return `${where}.multiplier must be a number from 1 to 10`;
      continue;
    }
    const p = fieldProblem(f, v, `${where}.${f.key}`);
    if (p) return p;
  }
  return undefined;
}

/** The OpenAPI 3.0 schema of one field. */
export function fieldSchema(field: FieldSpec): Record<string, unknown> {
  const base: Record<string, unknown> = { description: field.description };
  if (field.example !== undefined) base.example = field.example;
  if (field.default !== undefined) base.default = field.default;
  switch (field.type) {
    case 'string':
      return { type: 'string', minLength: 1, ...(field.max ? { maxLength: field.max } : {}), ...base };
    case 'url':
      return { type: 'string', format: 'uri', ...base };
    case 'int':
    case 'duration':
      return {
        type: 'integer',
        ...(field.min !== undefined ? { minimum: field.min } : {}),
        ...(field.max !== undefined ? { maximum: field.max } : {}),
        ...base,
      };
    case 'bool':
      return { type: 'boolean', ...base };
    case 'enum':
      return { type: 'string', enum: [...(field.values ?? [])], ...base };
    case 'strings':
      return { type: 'array', items: { type: 'string', minLength: 1 }, minItems: 1, ...base };
    case 'json':
      // Any JSON value, said as the API document says it elsewhere.
      return {
        anyOf: [
          { type: 'string' },
          { type: 'number' },
          { type: 'boolean' },
          { type: 'array', items: {} },
          { type: 'object', additionalProperties: true, nullable: true },
        ],
        ...base,
      };
    case 'retry':
      return {
        type: 'object',
        additionalProperties: false,
        properties: Object.fromEntries(
          RETRY_FIELDS.map((f) => [f.key, f.key === 'multiplier' ? { type: 'number', minimum: 1, maximum: 10, description: f.description } : fieldSchema(f)]),
        ),
        ...base,
      };
  }
}

/** A URL with its password (and user) replaced, for messages and views. */
export function redactUrl(value: string): string {
  try {
    const url = new URL(value);
    if (!url.password && !url.username) return value;
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return value.replace(/\/\/[^@/]*@/, '//***@');
  }
}
