import { SetMetadata } from '@nestjs/common';
import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, ArrayNotEmpty, IsArray, IsIn, IsOptional, IsString, Length, Matches, ValidateIf } from 'class-validator';
import { DATE_TIME, UUID } from '../openapi-schemas';

export const API_KEY_SCOPES = ['admin', 'invoke'] as const;
export type ApiKeyScope = (typeof API_KEY_SCOPES)[number];

/** Metadata key of `@Public()`: a route (or controller) the gateway answers without an API key. */
export const PUBLIC_ROUTE = 'hks:public-route';
/** Marks a route or controller as open to anyone; every other gateway route needs an admin key. */
export const Public = () => SetMetadata(PUBLIC_ROUTE, true);

/** Body of POST /api/v1/keys and payload of ApiKeyPatterns.Create. */
export class CreateApiKeyDto {
  @ApiProperty({ example: 'ci-deploy', description: 'What the key is for (1-100 characters).' })
  @IsString({ message: 'name must be a string' })
  @Length(1, 100, { message: 'name must be 1 to 100 characters' })
  @Matches(/^\P{Cc}+$/u, { message: 'name may not contain control characters' })
  name: string;

  @ApiProperty({ enum: API_KEY_SCOPES, enumName: 'ApiKeyScope', description: 'admin: every route; invoke: only invoking the functions listed.' })
  @IsIn(API_KEY_SCOPES as unknown as string[], { message: `scope must be one of ${API_KEY_SCOPES.join(', ')}` })
  scope: ApiKeyScope;

  @ApiPropertyOptional({
    type: [String],
    example: ['hello-world'],
    description: 'Functions (ids or labels) an invoke key may call; required for scope invoke.',
  })
  @ValidateIf((o: CreateApiKeyDto) => o.scope === 'invoke' || o.functions !== undefined)
  @IsArray({ message: 'functions must be a list of function ids or labels, e.g. ["hello-world"]' })
  @ArrayNotEmpty({ message: 'an invoke key needs functions: the ids or labels of the functions it may invoke' })
  @ArrayMaxSize(100, { message: 'functions may name at most 100 functions' })
  @IsString({ each: true, message: 'functions must be a list of function ids or labels' })
  @IsOptional()
  functions?: string[];
}

/** A key as listed: never its plaintext or hash. */
export class ApiKeyView {
  @ApiProperty({ ...UUID })
  id: string;

  @ApiProperty({ example: 'ci-deploy' })
  name: string;

  @ApiProperty({ example: 'hks_Q2h3x9aB', description: 'The first characters of the key, to tell keys apart.' })
  prefix: string;

  @ApiProperty({ enum: API_KEY_SCOPES, enumName: 'ApiKeyScope' })
  scope: ApiKeyScope;

  @ApiProperty({ type: [String], format: 'uuid', description: 'Function ids an invoke key may call ([] for an admin key).' })
  functions: string[];

  @ApiProperty({ ...DATE_TIME })
  createdAt: string;

  @ApiProperty({ ...DATE_TIME, nullable: true, description: 'When the key was revoked; null while it works.' })
  revokedAt: string | null;
}

/** Answer of create: the plaintext key, shown this once. */
export class CreatedApiKey extends ApiKeyView {
  @ApiProperty({ example: 'hks_Q2h3x9aBkR...', description: 'The key; shown this once, stored only as a hash.' })
  key: string;
}

/** Payload of ApiKeyPatterns.Verify: the sha256 (hex) of the key, so the key itself never leaves the gateway. */
export interface VerifyApiKeyQuery {
  hash: string;
}

export type ApiKeyVerdict = { valid: false } | { valid: true; id: string; scope: ApiKeyScope; functions: string[] };

/** Name of the file in HKS_DATA_DIR that holds the admin key made at first start. */
export const ADMIN_KEY_FILE = 'admin-key';
