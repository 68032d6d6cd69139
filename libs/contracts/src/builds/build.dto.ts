import { IsInt, IsOptional, IsString, Max, MaxLength, Min, MinLength } from 'class-validator';

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
  @IsInt({ message: 'limit must be a whole number from 1 to 500' })
  @Min(1, { message: 'limit must be a whole number from 1 to 500' })
  @Max(500, { message: 'limit must be a whole number from 1 to 500' })
  limit?: number;
}
