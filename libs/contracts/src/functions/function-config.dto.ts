import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsArray, IsBoolean, IsIn, IsInt, IsNumber, IsOptional, IsString, Matches, Max, MaxLength, Min, ValidateNested } from 'class-validator';
import { RETRYABLE_FAILURES, RetryableFailure } from '../invocations/async-invocation';
import { STRING_MAP } from '../openapi-schemas';
import type { ConcurrencyModel } from './runtime';
import { Trigger } from './triggers';
import { descriptorOf, SOURCES, triggerSchemaName, triggerTypes } from '@platform/sources';
import { IsStringRecord, IsStringValues, IsTrigger } from './validators';
import {
  KNATIVE_MAX_TIMEOUT_MS,
  METRIC_NAME_PATTERN,
  RESERVED_ENV_NAMES,
  SCALING_DEFAULTS,
  SCALING_METRICS,
  SCALING_TARGET_DEFAULTS,
  ScalingMetric,
  timeoutProblem,
} from './knative-limits';

export class ResourcesDto {
  @ApiPropertyOptional({ description: 'Memory limit per worker or container, in MB.', default: 128, minimum: 16, maximum: 16384 })
  @IsOptional()
  @IsInt()
  @Min(16)
  @Max(16384)
  memoryMb?: number;

  @ApiPropertyOptional({
    description: `Time limit of one invocation, in milliseconds; at most ${KNATIVE_MAX_TIMEOUT_MS} (10 minutes, the longest request Knative lets a revision take).`,
    default: 30000,
    minimum: 10,
    maximum: KNATIVE_MAX_TIMEOUT_MS,
  })
  @IsOptional()
  @IsInt()
  @Min(10)
  @Max(KNATIVE_MAX_TIMEOUT_MS, { message: ({ value }) => timeoutProblem(Number(value)).replace('config.', '') })
  timeoutMs?: number;

  @ApiPropertyOptional({ description: 'CPU request on Kubernetes, e.g. "250m" or "1".', example: '250m' })
  @IsOptional()
  @IsString()
  @Matches(/^\d+(\.\d+)?m?$/, { message: 'resources.cpu must look like "250m" or "1"' })
  cpu?: string;

  @ApiPropertyOptional({ description: 'Largest request body accepted, in bytes.', default: 6291456 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(104_857_600)
  maxRequestBytes?: number;

  @ApiPropertyOptional({ description: 'Largest response body a function may return, in bytes.', default: 6291456 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(104_857_600)
  maxResponseBytes?: number;

  @ApiPropertyOptional({ description: 'Most processes (and threads) one worker may run.', default: 64 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(4096)
  maxProcesses?: number;
}

export class ScalingDto {
  @ApiPropertyOptional({ description: 'Instances kept warm even without traffic; at most maxInstances.', default: 0 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100)
  minInstances?: number;

  @ApiPropertyOptional({ description: 'Most instances at once.', default: 10 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  maxInstances?: number;

  @ApiPropertyOptional({
    description:
      'Concurrent requests one instance serves. When not set it depends on the runtime: Node (one event loop) takes ' +
      'memoryMb / 2 at once, at most 100 (64 at the default 128 MB); Python takes 1 for a plain `def` handler and ' +
      'as many as Node for an `async def` one. A value set here is used as is, for every handler.',
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1000)
  concurrency?: number;

  @ApiPropertyOptional({ description: 'An idle instance above minInstances stops after this many ms.', default: 60000 })
  @IsOptional()
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  idleTimeoutMs?: number;

  @ApiPropertyOptional({ description: 'Requests that may wait for a free instance before the platform answers 429.', default: 100 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(100_000)
  queueSize?: number;

  @ApiPropertyOptional({
    description: 'Asynchronous invocations (202) that may wait to run before the platform answers 429 to the next one.',
    default: 10000,
  })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  asyncQueueSize?: number;

  @ApiPropertyOptional({
    enum: SCALING_METRICS,
    enumName: 'ScalingMetric',
    default: 'concurrency',
    description:
      'What instances are added on: "concurrency" (requests in flight per instance), "rps" (requests per second per ' +
      'instance, over the last 10 s), "cpu" (CPU % of one core per instance), "memory" (MiB per instance), "custom" ' +
      '(the value the function reports for `customMetric`, per instance: a response header `x-hks-metric: name=value`). ' +
      'Locally the invoker runs ceil(total / target) instances, within min/maxInstances; on Knative concurrency and rps ' +
      'are the KPA metric, cpu, memory and custom the HPA class (custom needs a custom metrics adapter on the cluster).',
  })
  @IsOptional()
  @IsIn(SCALING_METRICS as unknown as string[], { message: `scaling.metric must be one of ${SCALING_METRICS.join(', ')}` })
  metric?: ScalingMetric;

  @ApiPropertyOptional({
    description:
      'Target value of `metric` per instance: requests in flight (default: concurrency), requests per second (default ' +
      `${SCALING_TARGET_DEFAULTS.rps}), CPU % (default ${SCALING_TARGET_DEFAULTS.cpu}, at most 100), memory MiB (default 80% of ` +
      "resources.memoryMb, at most memoryMb), or the custom metric's value (required for custom).",
    minimum: 0.01,
    maximum: 100000,
  })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false }, { message: 'scaling.target must be a number' })
  @Min(0.01)
  @Max(100_000)
  target?: number;

  @ApiPropertyOptional({
    description: 'With metric "custom": the metric\'s Prometheus-style name (letters, digits, _ and :, not starting with a digit); only then.',
    example: 'queue_backlog',
    maxLength: 200,
  })
  @IsOptional()
  @IsString()
  @MaxLength(200)
  @Matches(METRIC_NAME_PATTERN, { message: 'scaling.customMetric must be a Prometheus-style name: letters, digits, _ and :, not starting with a digit' })
  customMetric?: string;
}

/** config.retry: how asynchronous invocations (and the trigger sources that use them) retry a failed attempt. */
export class RetryDto {
  @ApiPropertyOptional({ description: 'Attempts in all, the first included (1: no retry).', default: 3, minimum: 1, maximum: 50 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(50)
  attempts?: number;

  @ApiPropertyOptional({ description: 'Delay before the first retry, in ms; each next one is `multiplier` times longer.', default: 1000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  initialDelayMs?: number;

  @ApiPropertyOptional({ description: 'Longest delay between two attempts, in ms.', default: 300000 })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  maxDelayMs?: number;

  @ApiPropertyOptional({ description: 'Growth of the delay from one retry to the next.', default: 2, minimum: 1, maximum: 10 })
  @IsOptional()
  @IsNumber({ allowNaN: false, allowInfinity: false })
  @Min(1)
  @Max(10)
  multiplier?: number;

  @ApiPropertyOptional({
    enum: ['full', 'none'],
    default: 'full',
    description: '"full": each delay is drawn at random between 0 and its value (AWS\'s "full jitter"); "none": exact.',
  })
  @IsOptional()
  @IsIn(['full', 'none'], { message: 'retry.jitter must be "full" or "none"' })
  jitter?: 'full' | 'none';

  @ApiPropertyOptional({
    type: [String],
    enum: RETRYABLE_FAILURES,
    default: [...RETRYABLE_FAILURES],
    description:
      'Which failures are retried: "error" (the handler threw, crashed or ran out of memory), "timeout", "5xx" (it answered a 5xx). ' +
      'A 4xx answer is never retried; the platform being unable to run the attempt (not deployed, unreachable, full) always is.',
  })
  @IsOptional()
  @IsArray()
  @IsIn(RETRYABLE_FAILURES as unknown as string[], { each: true, message: `retry.on may list ${RETRYABLE_FAILURES.join(', ')}` })
  on?: RetryableFailure[];

  @ApiPropertyOptional({ description: 'An invocation older than this (ms since accepted) is not tried again: it goes to the dead letters.', default: 21600000 })
  @IsOptional()
  @IsInt()
  @Min(1000)
  @Max(604_800_000)
  maxAgeMs?: number;
}

export class NetworkDto {
  @ApiPropertyOptional({ description: 'Whether workers may open outbound connections.', default: false })
  @IsOptional()
  @IsBoolean()
  egress?: boolean;
}

export class SecretRefDto {
  @ApiProperty({ description: 'Environment variable the secret is exposed as.', example: 'DB_PASSWORD' })
  @IsString()
  @Matches(/^[A-Za-z_][A-Za-z0-9_]*$/, { message: 'secrets[].env must be a valid environment variable name' })
  env: string;

  @ApiProperty({ description: 'Name of the secret stored in the registry (and in Kubernetes).', example: 'db' })
  @IsString()
  @Matches(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, { message: 'secrets[].secret must be a lowercase DNS-style name' })
  secret: string;

  @ApiPropertyOptional({ description: 'Key inside the secret.', default: 'value' })
  @IsOptional()
  @IsString()
  key?: string;
}

export class FunctionConfigDto {
  @ApiPropertyOptional({
    ...STRING_MAP,
    description: `Environment variables of the function; not ${RESERVED_ENV_NAMES.join(', ')} (Knative sets those).`,
    example: { LOG_LEVEL: 'info' },
  })
  @IsOptional()
  @IsStringRecord({ message: 'config.env must be an object of string values with valid variable names' })
  env?: Record<string, string>;

  @ApiPropertyOptional({ type: [SecretRefDto] })
  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  @Type(() => SecretRefDto)
  secrets?: SecretRefDto[];

  @ApiPropertyOptional({ type: ResourcesDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ResourcesDto)
  resources?: ResourcesDto;

  @ApiPropertyOptional({ type: ScalingDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => ScalingDto)
  scaling?: ScalingDto;

  @ApiPropertyOptional({ type: RetryDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => RetryDto)
  retry?: RetryDto;

  @ApiPropertyOptional({ type: NetworkDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => NetworkDto)
  network?: NetworkDto;

  @ApiPropertyOptional({
    description:
      'How the function is triggered, one entry per trigger; `type` is the event source: ' +
      SOURCES.map((d) => `${d.kind} (${d.summary})`).join('; ') +
      '. A function with no triggers answers on /fn/{label} with a key.',
    type: 'array',
    items: {
      oneOf: SOURCES.map((d) => ({ $ref: `#/components/schemas/${triggerSchemaName(d)}` })),
      discriminator: {
        propertyName: 'type',
        mapping: Object.fromEntries(triggerTypes().map((t) => [t, `#/components/schemas/${triggerSchemaName(descriptorOf(t)!)}`])),
      },
    },
  })
  @IsOptional()
  @IsArray()
  @IsTrigger({ each: true })
  triggers?: Trigger[];

  @ApiPropertyOptional({ description: 'Deployment target; "local" (default) or "knative".', enum: ['local', 'knative'], enumName: 'DeploymentDriver' })
  @IsOptional()
  @IsIn(['local', 'knative'])
  @MaxLength(16)
  target?: 'local' | 'knative';

  @ApiPropertyOptional({ ...STRING_MAP, description: 'Free-form labels.', example: { team: 'shop' } })
  @IsOptional()
  @IsStringValues({ message: 'config.labels must be an object of string values, e.g. {"team": "shop"}' })
  labels?: Record<string, string>;
}

/** Resolved configuration with every default filled in: what the builder, deployer and invoker act on. */
export interface EffectiveConfig {
  env: Record<string, string>;
  secrets: Array<{ env: string; secret: string; key: string }>;
  resources: {
    memoryMb: number;
    timeoutMs: number;
    cpu?: string;
    maxRequestBytes: number;
    maxResponseBytes: number;
    maxProcesses: number;
  };
  scaling: {
    minInstances: number;
    maxInstances: number;
    concurrency: number;
    /**
     * Python with concurrency not set: what an `async def` handler takes at once instead (the shim runs those on one
     * event loop; a plain `def` handler keeps `concurrency`). Absent when concurrency was set or the runtime is Node.
     */
    asyncConcurrency?: number;
    idleTimeoutMs: number;
    queueSize: number;
    asyncQueueSize: number;
    /** What instances are added on (concurrency unless the function says). */
    metric: ScalingMetric;
    /** The target the function set (its default depends on the metric: scalingTarget). */
    target?: number;
    /** With metric custom: the metric's name. */
    customMetric?: string;
  };
  retry: {
    attempts: number;
    initialDelayMs: number;
    maxDelayMs: number;
    multiplier: number;
    jitter: 'full' | 'none';
    on: RetryableFailure[];
    maxAgeMs: number;
  };
  network: { egress: boolean };
  triggers: Trigger[];
  target?: 'local' | 'knative';
}

export const CONFIG_DEFAULTS = {
  memoryMb: 128,
  timeoutMs: 30_000,
  maxRequestBytes: 6 * 1024 * 1024,
  maxResponseBytes: 6 * 1024 * 1024,
  maxProcesses: 64,
  minInstances: SCALING_DEFAULTS.minInstances,
  maxInstances: SCALING_DEFAULTS.maxInstances,
  idleTimeoutMs: 60_000,
  queueSize: 100,
  asyncQueueSize: 10_000,
  retry: { attempts: 3, initialDelayMs: 1000, maxDelayMs: 300_000, multiplier: 2, jitter: 'full', maxAgeMs: 6 * 3600_000 },
} as const;

/** The target of a function's scaling metric per instance, its default filled in (see ScalingDto.target). */
export function scalingTarget(scaling: Pick<EffectiveConfig['scaling'], 'metric' | 'target' | 'concurrency'>, memoryMb: number): number {
  if (scaling.target !== undefined) return scaling.target;
  switch (scaling.metric) {
    case 'rps':
      return SCALING_TARGET_DEFAULTS.rps;
    case 'cpu':
      return SCALING_TARGET_DEFAULTS.cpu;
    case 'memory':
      return Math.max(1, Math.floor(memoryMb * SCALING_TARGET_DEFAULTS.memoryShare));
    default:
      return scaling.concurrency;
  }
}

/** Most requests at once on one worker of an event-loop runtime when the function does not say (Knative's target). */
export const EVENT_LOOP_CONCURRENCY_MAX = 100;

/**
 * Requests one worker of an event loop (Node, an `async def` Python handler) takes at once when scaling.concurrency is
 * not set: about 2 MB of the function's memory per request in flight (the runtime itself takes 30-40 of the default 128),
 * at most 100 (Knative's target; Cloud Run's default is 80), so 64 at the default 128 MB.
 */
export function eventLoopConcurrency(memoryMb: number): number {
  return Math.max(1, Math.min(EVENT_LOOP_CONCURRENCY_MAX, Math.floor(memoryMb / 2)));
}

/** scaling.concurrency when the function does not set it: an event loop (Node) serves many requests at once, Python (threads under the GIL) one. */
export function defaultConcurrency(model: ConcurrencyModel, memoryMb: number): number {
  return model === 'event-loop' ? eventLoopConcurrency(memoryMb) : 1;
}

/** The concurrency a function runs with, and, for Python left to the default, what an `async def` handler takes. */
export function concurrencyOf(
  model: ConcurrencyModel,
  set: number | undefined,
  memoryMb: number,
): Pick<EffectiveConfig['scaling'], 'concurrency' | 'asyncConcurrency'> {
  if (set !== undefined) return { concurrency: set };
  const concurrency = defaultConcurrency(model, memoryMb);
  return model === 'one-or-event-loop' ? { concurrency, asyncConcurrency: eventLoopConcurrency(memoryMb) } : { concurrency };
}

/** The configuration with the defaults filled in; `model` is the function's runtime's (runtimeDescriptor(family).concurrency). */
export function effectiveConfig(config: FunctionConfigDto | undefined | null, model: ConcurrencyModel): EffectiveConfig {
  const c = config ?? {};
  const memoryMb = c.resources?.memoryMb ?? CONFIG_DEFAULTS.memoryMb;
  return {
    env: { ...(c.env ?? {}) },
    secrets: (c.secrets ?? []).map((s) => ({ env: s.env, secret: s.secret, key: s.key ?? 'value' })),
    resources: {
      memoryMb,
      timeoutMs: c.resources?.timeoutMs ?? CONFIG_DEFAULTS.timeoutMs,
      cpu: c.resources?.cpu,
      maxRequestBytes: c.resources?.maxRequestBytes ?? CONFIG_DEFAULTS.maxRequestBytes,
      maxResponseBytes: c.resources?.maxResponseBytes ?? CONFIG_DEFAULTS.maxResponseBytes,
      maxProcesses: c.resources?.maxProcesses ?? CONFIG_DEFAULTS.maxProcesses,
    },
    scaling: {
      minInstances: c.scaling?.minInstances ?? CONFIG_DEFAULTS.minInstances,
      maxInstances: c.scaling?.maxInstances ?? CONFIG_DEFAULTS.maxInstances,
      ...concurrencyOf(model, c.scaling?.concurrency, memoryMb),
      idleTimeoutMs: c.scaling?.idleTimeoutMs ?? CONFIG_DEFAULTS.idleTimeoutMs,
      queueSize: c.scaling?.queueSize ?? CONFIG_DEFAULTS.queueSize,
      asyncQueueSize: c.scaling?.asyncQueueSize ?? CONFIG_DEFAULTS.asyncQueueSize,
      metric: c.scaling?.metric ?? 'concurrency',
      target: c.scaling?.target,
      ...(c.scaling?.customMetric !== undefined ? { customMetric: c.scaling.customMetric } : {}),
    },
    retry: {
      attempts: c.retry?.attempts ?? CONFIG_DEFAULTS.retry.attempts,
      initialDelayMs: c.retry?.initialDelayMs ?? CONFIG_DEFAULTS.retry.initialDelayMs,
      maxDelayMs: c.retry?.maxDelayMs ?? CONFIG_DEFAULTS.retry.maxDelayMs,
      multiplier: c.retry?.multiplier ?? CONFIG_DEFAULTS.retry.multiplier,
      jitter: c.retry?.jitter ?? CONFIG_DEFAULTS.retry.jitter,
      on: [...new Set(c.retry?.on ?? RETRYABLE_FAILURES)],
      maxAgeMs: c.retry?.maxAgeMs ?? CONFIG_DEFAULTS.retry.maxAgeMs,
    },
    network: { egress: c.network?.egress ?? false },
    triggers: [...(c.triggers ?? [])],
    target: c.target,
  };
}
