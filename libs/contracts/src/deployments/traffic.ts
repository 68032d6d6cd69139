import { ApiExtraModels, ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsBoolean, IsInt, IsNumber, IsOptional, Max, Min, ValidateNested } from 'class-validator';
import { ApiNullableModel, DATE_TIME, UUID } from '../openapi-schemas';
import { ValidationError } from '../errors';
import { WholeNumber } from '../functions/validators';

/**
 * Invoking one version or alias: `{label}:{qualifier}` in the URL (as AWS Lambda's `function:alias`), e.g.
 * /fn/shop:stable/... or /api/v1/functions/invoke/shop:3, or the X-Function-Qualifier header. A label never
 * holds a colon, so the first one starts the qualifier.
 */
export const QUALIFIER_SEPARATOR = ':';
export const QUALIFIER_HEADER = 'x-function-qualifier';
/** A caller's identity for sticky splits: the client's own header, kept for async invocations and triggers too. */
export const CALLER_HEADER = 'x-caller-id';
/** Set by the gateway on synchronous invocations from the API key's id, when the client sent no X-Caller-Id. */
export const GATEWAY_CALLER_HEADER = 'x-hks-caller';
/** Always there: the version deployed last (POST .../deploy), which takes all traffic without a split. */
export const LATEST_ALIAS = 'latest';
/** A DNS-1035 label (a Knative traffic tag), short enough that `{tag}-{service}` stays a valid host label. */
export const ALIAS_PATTERN = /^[a-z]([-a-z0-9]{0,18}[a-z0-9])?$/;
/** `v{n}` names version n (and is its Knative tag), so no alias may look like it. */
const VERSION_TAG = /^v\d+$/;
export const MAX_SPLITS = 10;
/** User aliases per function (`latest` apart): each one is a Knative traffic tag, and its version keeps running. */
export const MAX_ALIASES = 32;
/** Versions are numbered from 1 and stored as Postgres integers. */
export const MAX_VERSION = 2_147_483_647;
export const VERSION_RANGE = `a whole number from 1 to ${MAX_VERSION}`;
/** What a qualifier may be, said once for the API document and every message. */
export const QUALIFIER_RULE =
  'a qualifier is an alias (1 to 20 characters of a-z, 0-9 and "-", starting with a letter: a DNS-1035 label, as PUT .../aliases/{alias} takes) or a version (3 or v3)';
const VERSION_QUALIFIER = /^v?(\d+)$/;
/** The shape of a qualifier, for the API document (the version's range is checked apart: qualifierProblem). */
export const QUALIFIER_PATTERN_SOURCE = `^(?:${ALIAS_PATTERN.source.slice(1, -1)}|v?[0-9]{1,10})$`;

export function versionTag(version: number): string {
  return `v${version}`;
}

/** Why a name cannot be an alias, or undefined when it can. */
export function aliasProblem(name: unknown): string | undefined {
  if (typeof name !== 'string' || !ALIAS_PATTERN.test(name))
    return `alias "${String(name)}" must be 1 to 20 characters of a-z, 0-9 and "-", starting with a letter and not ending with "-" (a DNS-1035 label)`;
  if (name === LATEST_ALIAS) return `"${LATEST_ALIAS}" is the version deployed last; deploy a version to move it`;
  if (VERSION_TAG.test(name)) return `"${name}" looks like a version tag (v{n}); pick another alias`;
  return undefined;
}

/** `text` for a message: printable ASCII as it is, anything else \u-escaped, and not too long. */
function quoted(text: string): string {
  const shown = JSON.stringify(text.length > 64 ? `${text.slice(0, 64)}...` : text);
  return shown.replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** The version a path segment or a body names, or why it names none (not a whole number, 0, above MAX_VERSION). */
export function parseVersion(raw: unknown, what = 'the version'): number | string {
  const n = typeof raw === 'string' && /^\d{1,16}$/.test(raw) ? Number(raw) : raw;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 1 || n > MAX_VERSION) {
    return `${what} must be ${VERSION_RANGE}, not ${typeof raw === 'string' ? quoted(raw) : JSON.stringify(raw ?? null)}`;
  }
  return n;
}

/** Why a qualifier (after the ":" of `{label}:{qualifier}`, or the X-Function-Qualifier header) is malformed, or undefined. */
export function qualifierProblem(qualifier: string): string | undefined {
  const number = VERSION_QUALIFIER.exec(qualifier);
  if (number) {
    const v = parseVersion(number[1]);
    return typeof v === 'string' ? `qualifier ${quoted(qualifier)} names a version: it must be ${VERSION_RANGE}` : undefined;
  }
  if (!ALIAS_PATTERN.test(qualifier)) return `qualifier ${quoted(qualifier)} is not valid: ${QUALIFIER_RULE}`;
  return undefined;
}

/** `shop:stable` -> { name: 'shop', qualifier: 'stable' }; no colon -> no qualifier. */
export function splitQualifier(name: string): { name: string; qualifier?: string } {
  const at = name.indexOf(QUALIFIER_SEPARATOR);
  if (at === -1) return { name };
  return { name: name.slice(0, at), qualifier: name.slice(at + 1) };
}

export interface TrafficSplit {
  version: number;
  percent: number;
}

/** How a deployment's invocations are spread over its versions; the invoker applies it to every invocation. */
export interface Routing {
  /** User aliases -> version (`latest` is implicit: the deployment's own version). */
  aliases: Record<string, number>;
  /** null: everything goes to the deployment's version. */
  splits: TrafficSplit[] | null;
  /** Same caller, same version (by a hash of X-Caller-Id or the API key). */
  sticky: boolean;
  /** Grows with every change, so invokers know they hold the current one. */
  revision: number;
}

export const NO_ROUTING: Routing = { aliases: {}, splits: null, sticky: false, revision: 0 };

/**
 * The version a qualifier names (an alias, `latest`, a number or `v{n}`), or a message saying why none (a 404).
 * A malformed qualifier throws a ValidationError (a 400) naming the rule.
 */
export function resolveQualifier(routing: Routing, latest: number, qualifier: string, deployed: (v: number) => boolean): number | string {
  const q = qualifier.trim();
  const problem = qualifierProblem(q);
  if (problem) throw new ValidationError(problem);
  let version: number | undefined;
  const number = VERSION_QUALIFIER.exec(q);
  if (q === LATEST_ALIAS) version = latest;
  else if (number) version = Number(number[1]);
  else if (Object.prototype.hasOwnProperty.call(routing.aliases, q)) version = routing.aliases[q];
  if (version === undefined) {
    const known = [LATEST_ALIAS, ...Object.keys(routing.aliases)].join(', ');
    return `no alias "${q}" (aliases: ${known}; or name a version number)`;
  }
  if (!deployed(version)) return `version ${version} is not deployed (an alias or a traffic split names the versions that run; or deploy it)`;
  return version;
}

/** FNV-1a, 32 bits: a stable, cheap spread of caller identities. */
export function callerBucket(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % 10_000;
}

/**
 * The version an invocation without a qualifier goes to: by the split's percentages, from a caller's bucket when
 * sticky (the same caller always lands on the same version while the split stays) or at random.
 */
export function pickVersion(routing: Routing, latest: number, callerKey?: string, random: () => number = Math.random): number {
  const splits = routing.splits;
  if (!splits || splits.length === 0) return latest;
  const point = routing.sticky && callerKey ? callerBucket(callerKey) : Math.floor(random() * 10_000);
  let acc = 0;
  for (const s of splits) {
    acc += s.percent * 100;
    if (point < acc) return s.version;
  }
  return splits[splits.length - 1].version;
}

/** Why a split cannot be applied, or undefined: whole percentages summing to 100, each version once. */
export function splitsProblem(splits: TrafficSplit[]): string | undefined {
  if (!splits.length) return 'splits must name at least one version';
  const seen = new Set<number>();
  for (const s of splits) {
    if (seen.has(s.version)) return `version ${s.version} appears twice in splits`;
    seen.add(s.version);
  }
  const sum = splits.reduce((n, s) => n + s.percent, 0);
  if (sum !== 100) return `the split's percentages sum to ${sum}; they must sum to 100`;
  return undefined;
}

export class TrafficSplitDto implements TrafficSplit {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_VERSION, example: 1 })
  @WholeNumber(1, MAX_VERSION, `each split needs a version: ${VERSION_RANGE}`)
  version: number;

  @ApiProperty({ type: 'integer', minimum: 0, maximum: 100, example: 90 })
  @WholeNumber(0, 100, 'each split needs a percent: a whole number from 0 to 100')
  percent: number;
}

export const DEFAULT_CANARY_STEPS = [10, 25, 50, 100];

/** A canary: the new version's share grows step by step, and falls back to 0 by itself when it fails too often. */
export class CanaryDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_VERSION, description: 'The version to shift traffic to; the rest stays on the one deployed last.' })
  @WholeNumber(1, MAX_VERSION, `canary.version must be ${VERSION_RANGE}`)
  version: number;

  @ApiPropertyOptional({ type: [Number], example: DEFAULT_CANARY_STEPS, description: 'Percentages of each step, rising, the last 100.' })
  @IsOptional()
  @IsArray({ message: 'canary.steps must be a list of percentages' })
  @ArrayMinSize(1, { message: 'canary.steps must hold at least one step' })
  @ArrayMaxSize(20, { message: 'canary.steps may hold at most 20 steps' })
  @IsInt({ each: true, message: 'each canary step must be a whole percentage from 1 to 100' })
  @Min(1, { each: true, message: 'each canary step must be a whole percentage from 1 to 100' })
  @Max(100, { each: true, message: 'each canary step must be a whole percentage from 1 to 100' })
  steps?: number[];

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 86_400, default: 60, description: 'Seconds between steps.' })
  @IsOptional()
  @WholeNumber(1, 86_400, 'canary.intervalSeconds must be a whole number of seconds from 1 to 86400')
  intervalSeconds?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 1, default: 0.1, description: "Above this error rate of the canary's invocations in a step, it is rolled back." })
  @IsOptional()
  @IsNumber({}, { message: 'canary.maxErrorRate must be a number from 0 to 1' })
  @Min(0, { message: 'canary.maxErrorRate must be a number from 0 to 1' })
  @Max(1, { message: 'canary.maxErrorRate must be a number from 0 to 1' })
  maxErrorRate?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, default: 5, description: 'A step is judged only once the canary had this many invocations in it.' })
  @IsOptional()
  @WholeNumber(0, 1_000_000, 'canary.minInvocations must be a whole number from 0')
  minInvocations?: number;
}

/** Body of PUT /api/v1/functions/{id}/traffic: a split, or a canary. */
export class SetTrafficDto {
  @ApiPropertyOptional({ type: [TrafficSplitDto], description: 'Whole percentages per version, summing to 100.' })
  @IsOptional()
  @IsArray({ message: 'splits must be a list of {version, percent}' })
  @ArrayMinSize(1, { message: 'splits must name at least one version' })
  @ArrayMaxSize(MAX_SPLITS, { message: `splits may name at most ${MAX_SPLITS} versions` })
  @ValidateNested({ each: true })
  @Type(() => TrafficSplitDto)
  splits?: TrafficSplitDto[];

  @ApiPropertyOptional({ description: 'Same caller, same version: by a hash of the X-Caller-Id header, else of the API key.', default: false })
  @IsOptional()
  @IsBoolean({ message: 'sticky must be true or false' })
  sticky?: boolean;

  @ApiPropertyOptional({ type: () => CanaryDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => CanaryDto)
  canary?: CanaryDto;
}

/** Body of PUT /api/v1/functions/{id}/aliases/{alias}. */
export class SetAliasDto {
  @ApiProperty({ type: 'integer', minimum: 1, maximum: MAX_VERSION })
  @WholeNumber(1, MAX_VERSION, `version must be ${VERSION_RANGE}`)
  version: number;
}

/** Body of POST /api/v1/functions/deploy/{id} (optional). */
export class DeployBodyDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_VERSION,
    description: "The version to deploy (it must have a successful build); default the function's current one.",
  })
  @IsOptional()
  @WholeNumber(1, MAX_VERSION, `version must be ${VERSION_RANGE}`)
  version?: number;
}

/** Body of POST /api/v1/functions/{id}/rollback (optional). */
export class RollbackBodyDto {
  @ApiPropertyOptional({
    type: 'integer',
    minimum: 1,
    maximum: MAX_VERSION,
    description: 'The version to go back to; default the one that served before the current one.',
  })
  @IsOptional()
  @WholeNumber(1, MAX_VERSION, `to must be ${VERSION_RANGE}`)
  to?: number;
}

export const CANARY_STATES = ['RUNNING', 'PROMOTED', 'ROLLED_BACK'] as const;
export type CanaryState = (typeof CANARY_STATES)[number];

export class CanaryView {
  @ApiProperty({ type: 'integer' })
  version: number;

  @ApiProperty({ type: 'integer', description: 'The version the rest of the traffic stays on.' })
  baseline: number;

  @ApiProperty({ type: [Number] })
  steps: number[];

  @ApiProperty({ type: 'integer', description: 'Index of the current step in steps.' })
  step: number;

  @ApiProperty({ type: 'integer' })
  intervalSeconds: number;

  @ApiProperty()
  maxErrorRate: number;

  @ApiProperty({ type: 'integer' })
  minInvocations: number;

  @ApiProperty({ enum: CANARY_STATES, enumName: 'CanaryState' })
  state: CanaryState;

  @ApiProperty({ type: String, nullable: true, description: 'Why it was rolled back, or promoted.' })
  reason: string | null;

  @ApiProperty({ ...DATE_TIME, description: 'When the current step began.' })
  stepStartedAt: string;
}

@ApiExtraModels(CanaryView)
export class TrafficView {
  @ApiProperty({ ...UUID })
  functionId: string;

  @ApiProperty()
  label: string;

  @ApiProperty({ type: 'integer', description: 'The version deployed last (alias latest).' })
  version: number;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'integer' }, example: { latest: 2, stable: 1 } })
  aliases: Record<string, number>;

  @ApiProperty({ type: [TrafficSplitDto], description: 'Where invocations without a qualifier go.' })
  splits: TrafficSplit[];

  @ApiProperty()
  sticky: boolean;

  @ApiProperty({ type: [Number], description: 'The versions running now (split, aliased or latest).' })
  versions: number[];

  @ApiNullableModel(CanaryView, { description: 'The canary in progress, or the last one (PROMOTED or ROLLED_BACK); null without one.' })
  canary: CanaryView | null;

  @ApiProperty({ type: 'integer' })
  revision: number;
}
