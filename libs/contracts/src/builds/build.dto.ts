import { IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { WholeNumber } from '../functions/validators';

/** Payload of BuildPatterns.Get. */
export class GetBuildQuery {
  @IsString({ message: 'buildId must be a string' })
  @MinLength(1, { message: 'buildId must not be empty' })
  @MaxLength(200)
  buildId: string;
}

/** Payload of BuildPatterns.ListForFunction: the function's builds, newest first. */
export class ListBuildsForFunctionQuery {
  /** The function's id or label. */
  @IsString({ message: 'functionId must be a function id or label' })
  @MinLength(1, { message: 'functionId must not be empty' })
  @MaxLength(200)
  functionId: string;

  @IsOptional()
  @WholeNumber(1, 500, 'limit must be a whole number from 1 to 500')
  limit?: number;
}
