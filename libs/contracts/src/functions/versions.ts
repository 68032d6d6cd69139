import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { DATE_TIME, JSON_OBJECT, STRING_MAP, UUID } from '../openapi-schemas';

/** Build state of one version: null until a build of it was requested. */
export const VERSION_BUILD_STATUSES = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'] as const;
export type VersionBuildStatus = (typeof VERSION_BUILD_STATUSES)[number];

/**
 * One version of a function, as stored: its code and configuration never change once written (a change makes a
 * new version, or goes back to an older one when the code and configuration are identical to it). The build
 * fields say what was built from it.
 */
export class FunctionVersionView {
  @ApiProperty({ ...UUID })
  functionId: string;

  @ApiProperty({ type: 'integer', minimum: 1 })
  version: number;

  @ApiProperty({ example: 'node' })
  template: string;

  @ApiProperty({ example: 'nodejs20' })
  runtime: string;

  @ApiProperty({ example: 'handler.handle' })
  entrypoint: string;

  @ApiProperty({ ...JSON_OBJECT, description: 'The configuration of this version, as it was set.' })
  config: Record<string, unknown>;

  @ApiProperty({
    example: `sha256:${'ab'.repeat(32)}`,
    description: 'Digest of the code and configuration (what the builder builds from): two versions with the same digest are the same version.',
  })
  sourceDigest: string;

  @ApiProperty({ type: String, nullable: true, enum: VERSION_BUILD_STATUSES, description: 'The state of its latest build; null when never built.' })
  buildStatus: VersionBuildStatus | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why its latest build failed.' })
  buildError: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The bundle its successful build made (what a deploy of this version runs).' })
  bundleDigest: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'The OCI image its build pushed, when a registry is configured.' })
  image: string | null;

  @ApiPropertyOptional({ type: String, nullable: true, description: 'The handler code (GET .../versions/{n} only).' })
  handler?: string | null;

  @ApiPropertyOptional({ ...STRING_MAP, nullable: true, description: 'The files (GET .../versions/{n} only).' })
  files?: Record<string, string> | null;

  @ApiProperty({ ...DATE_TIME })
  createdAt: string;
}

/** Payload of FunctionPatterns.GetVersion (and GetRuntimeSpec with a version). */
export interface FunctionVersionQuery {
  id: string;
  version?: number;
}
