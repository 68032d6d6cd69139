import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsOptional, IsString, Matches, MaxLength } from 'class-validator';
import { FunctionView, UpdateFunctionDto } from './function.dto';
import { WholeNumber } from './validators';
import { DATE_TIME, STRING_MAP } from '../openapi-schemas';

/**
 * Payload of the function RPCs that name one function (Get, Resolve, Delete, RequestBuild,
 * GetRuntimeSpec, ResolveSecrets): `id` is the function's uuid or its label. The registry also
 * accepts the same value as `functionId` or `label`.
 */
export interface FunctionRef {
  id: string;
}

/** Payload of FunctionPatterns.Update: the changes replace the fields they name (config as a whole). */
export interface UpdateFunctionCommand {
  id: string;
  changes: UpdateFunctionDto;
}

/** Query of GET /api/v1/functions and payload of FunctionPatterns.List. */
export class ListFunctionsQueryDto {
  @ApiPropertyOptional({ default: 50, minimum: 1, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @WholeNumber(1, 500, 'limit must be a whole number from 1 to 500')
  limit?: number;

  @ApiPropertyOptional({ default: 0, minimum: 0 })
  @IsOptional()
  @Type(() => Number)
  @WholeNumber(0, Number.MAX_SAFE_INTEGER, 'offset must be a whole number from 0')
  offset?: number;

  @ApiPropertyOptional({ description: 'Only functions whose label contains this text.', example: 'hello' })
  @IsOptional()
  @IsString()
  @MaxLength(63)
  label?: string;
}

/** Answer of FunctionPatterns.List: one page, newest first. */
export class FunctionPage {
  @ApiProperty({ type: [FunctionView] })
  items: FunctionView[];

  @ApiProperty({ type: 'integer', minimum: 0, description: 'Functions that match, on every page.' })
  total: number;

  @ApiProperty({ type: 'integer', minimum: 1 })
  limit: number;

  @ApiProperty({ type: 'integer', minimum: 0 })
  offset: number;
}

/** Secret names are DNS-1123 labels, so they can name Kubernetes Secrets (which, unlike Services, may start with a digit). */
export const SECRET_NAME_PATTERN = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** Body of PUT /api/v1/secrets/{name}. */
export class SecretValuesDto {
  @ApiProperty({
    ...STRING_MAP,
    description: 'Keys and their values; a function references one as {"env": "DB_PASSWORD", "secret": "db", "key": "password"}.',
    example: { password: 's3cr3t', user: 'app' },
  })
  @IsObject({ message: 'values must be an object of string values, e.g. {"password": "s3cr3t"}' })
  values: Record<string, string>;
}

/** Payload of FunctionPatterns.PutSecret (creates or replaces the secret). */
export class PutSecretDto extends SecretValuesDto {
  @ApiProperty({ example: 'db' })
  @IsString()
  @Matches(SECRET_NAME_PATTERN, { message: 'secret name must be 1-63 lowercase letters, digits or dashes, starting and ending with a letter or digit' })
  name: string;
}

/** A secret as listed: never its values. */
export class SecretView {
  @ApiProperty({ example: 'db' })
  name: string;

  @ApiProperty({ type: [String], example: ['password', 'user'], description: 'Its keys, sorted; the values never leave the registry but to a deployment.' })
  keys: string[];

  @ApiProperty({ ...DATE_TIME })
  createdAt: string;

  @ApiProperty({ ...DATE_TIME })
  updatedAt: string;
}

/** Payload of FunctionPatterns.DeleteSecret. */
export interface SecretRef {
  name: string;
}

/**
 * Payload of FunctionPatterns.ResolveSecrets; answer: Record<envName, value> for the config.secrets of `version`
 * (the version a deployment runs: a rollback, an alias or a split can run an older one), else of the current version.
 */
export interface ResolveSecretsCommand {
  functionId: string;
  version?: number;
}
