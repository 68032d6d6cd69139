import { ApiProperty } from '@nestjs/swagger';
import { createHash } from 'crypto';
import { EffectiveConfig } from '../functions/function-config.dto';
import { RuntimeFamily, TemplateName } from '../functions/runtime';
import { DATE_TIME, UUID } from '../openapi-schemas';

/** BullMQ queue the registry adds build jobs to and the builder works. */
export function buildQueueName(): string {
  return 'builds';
}

/** BullMQ key prefix; the namespace keeps installations and test runs apart on one Redis. */
export function bullPrefix(namespace: string): string {
  return `${namespace}:bull`;
}

/**
 * A build job as it sits in Redis: a reference to the source, never the source itself. The builder asks the
 * registry for it (FunctionPatterns.GetBuildSource) when it runs the job, and checks it against `sourceDigest`.
 */
export interface BuildJobData {
  buildId: string;
  functionId: string;
  label: string;
  version: number;
  /** buildSourceDigest() of the source this build was requested for. */
  sourceDigest: string;
  requestedAt: string;
  /** W3C traceparent of the span that queued the build: the builder's span of the job continues its trace. */
  traceparent?: string;
}

/** Payload of FunctionPatterns.GetBuildSource. */
export interface BuildSourceQuery {
  functionId: string;
  version: number;
}

/** What a build works from: one version of a function's code and configuration. */
export interface BuildSource {
  template: TemplateName;
  runtime: string;
  family: RuntimeFamily;
  /** The exact version `runtime` resolved to (the interpreter that checks and installs, e.g. Python wheels). */
  runtimeVersion?: string;
  /** Relative path -> UTF-8 text, or "base64:..." for binary files. */
  files: Record<string, string>;
  entrypoint: string;
  config: EffectiveConfig;
}

/** A job with its source fetched: what the build runs on. */
export type BuildInput = BuildJobData & BuildSource;

/** sha256 of a build source, independent of key order: "sha256:<hex>". */
export function buildSourceDigest(source: BuildSource): string {
  const { template, runtime, family, runtimeVersion, files, entrypoint, config } = source;
  // runtimeVersion only when set: sources of before it was resolved keep their digest.
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(sorted({ template, runtime, family, ...(runtimeVersion ? { runtimeVersion } : {}), files, entrypoint, config })))
    .digest('hex')}`;
}

function sorted(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sorted);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.keys(v)
        .sort()
        .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
    );
  return v;
}

export const BUILD_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;
export type BuildStatus = (typeof BUILD_STATUSES)[number];

/** One build of one function version, with its log. */
export class BuildView {
  @ApiProperty({ ...UUID })
  id: string;

  @ApiProperty({ ...UUID })
  functionId: string;

  @ApiProperty({ type: 'integer', minimum: 1, description: 'The function version built.' })
  version: number;

  @ApiProperty({ enum: BUILD_STATUSES, enumName: 'BuildStatus' })
  status: BuildStatus;

  @ApiProperty({ type: String, nullable: true, example: `sha256:${'0f'.repeat(32)}`, description: "sha256 digest of the bundle (the function's layer)." })
  bundleDigest: string | null;

  @ApiProperty({ type: 'integer', nullable: true, description: 'Size of the bundle in bytes.' })
  bundleSize: number | null;

  @ApiProperty({ type: String, nullable: true, description: 'Image reference by digest when a registry is configured.' })
  image: string | null;

  @ApiProperty({ type: String, nullable: true, description: "Digest of the image's manifest." })
  imageDigest: string | null;

  @ApiProperty({ type: String, nullable: true, description: "Digest of the build's inputs; equal inputs are not rebuilt." })
  inputDigest: string | null;

  @ApiProperty({ description: 'True when an earlier build of equal inputs was reused.' })
  cached: boolean;

  @ApiProperty({ type: String, nullable: true, description: 'Why the build FAILED.' })
  error: string | null;

  @ApiProperty({ description: 'The build log; it grows while the build runs.' })
  log: string;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  startedAt: string | null;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  finishedAt: string | null;

  @ApiProperty({ ...DATE_TIME })
  createdAt: string;
}

/** Payload of build.succeeded / build.failed events. */
export interface BuildResultPayload {
  buildId: string;
  functionId: string;
  version: number;
  bundleDigest?: string;
  image?: string | null;
  cached?: boolean;
  error?: string;
  log?: string;
}
