import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsISO8601, IsOptional, IsUUID, Matches } from 'class-validator';
import { LABEL_REF_PATTERN } from '../functions/label';
import { WholeNumber } from '../functions/validators';
import { UUID_PATTERN } from '../uuid';
import { InvocationStatsQuery } from './event';

/** The pattern's source without its ^ and $, to combine it with others. */
const unanchored = (pattern: RegExp) => pattern.source.replace(/^\^|\$$/g, '');

/** A uuid, or a function label (LABEL_REF_PATTERN: old labels too); the event store resolves labels through the registry. */
export const FUNCTION_REF_PATTERN = new RegExp(`^(${unanchored(UUID_PATTERN)}|${unanchored(LABEL_REF_PATTERN)})$`, 'i');

/** Largest time series EventPatterns.Stats answers; more buckets than this is a 400. */
export const MAX_STATS_BUCKETS = 10_000;

/** Payload of EventPatterns.Get. */
export class GetEventDto {
  @ApiProperty({ description: 'Event id (uuid).' })
  @IsUUID('all', { message: 'id must be a UUID' })
  id: string;
}

/** Payload of EventPatterns.Stats (query of GET /api/v1/functions/:idOrLabel/stats). */
export class InvocationStatsQueryDto implements InvocationStatsQuery {
  @ApiProperty({ description: 'Function id (uuid) or label.' })
  @Matches(FUNCTION_REF_PATTERN, { message: 'functionId must be a function id (UUID) or label' })
  functionId: string;

  @ApiPropertyOptional({ description: 'Invocations at or after this ISO-8601 time.' })
  @IsOptional()
  @IsISO8601({}, { message: 'from must be an ISO-8601 date-time, e.g. 2026-01-31T12:00:00Z' })
  from?: string;

  @ApiPropertyOptional({ description: 'Invocations before this ISO-8601 time.' })
  @IsOptional()
  @IsISO8601({}, { message: 'to must be an ISO-8601 date-time, e.g. 2026-01-31T13:00:00Z' })
  to?: string;

  @ApiPropertyOptional({ description: 'Width of the time-series buckets in seconds (1 to 31536000); omit for no series.' })
  @IsOptional()
  @Type(() => Number)
  @WholeNumber(1, 31_536_000, 'bucketSeconds must be a whole number of seconds from 1 to 31536000')
  bucketSeconds?: number;

  @ApiPropertyOptional({ enum: ['version'], description: "`version`: each version's figures side by side, in `versions`." })
  @IsOptional()
  @IsIn(['version'], { message: 'by must be "version" (or left out)' })
  by?: 'version';

  @ApiPropertyOptional({ type: 'integer', minimum: 1, description: "Only this version's invocations." })
  @IsOptional()
  @Type(() => Number)
  @WholeNumber(1, 2_147_483_647, 'version must be a whole number from 1')
  version?: number;
}
