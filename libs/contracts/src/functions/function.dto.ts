import { ApiExtraModels, ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsObject, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateIf, ValidateNested } from 'class-validator';
import { FunctionConfigDto, EffectiveConfig } from './function-config.dto';
import { FunctionStatus } from './function-status';
import { BUILD_STATUSES, BuildStatus } from '../builds/build';
import { ApiNullableModel, DATE_TIME, STRING_MAP, UUID } from '../openapi-schemas';
import { IsFunctionLabel, LABEL_PATTERN, MAX_LABEL_LENGTH, RESERVED_LABELS } from './label';
import { ResolvedRuntime, RUNTIME_NAME_PATTERN, RuntimeFamily, TEMPLATE_NAME_PATTERN, TemplateName } from './runtime';

export const MAX_HANDLER_BYTES = 1024 * 1024;

const LABEL_DOC = {
  description:
    'Unique name: a DNS-1035 label (lowercase letters, digits and dashes, starting with a letter), so it can name a ' +
    `Knative Service. Not one of ${Object.keys(RESERVED_LABELS).join(', ')}: those are routes under /api/v1/functions.`,
  example: 'my-function',
  pattern: LABEL_PATTERN.source,
  maxLength: MAX_LABEL_LENGTH,
};

export class CreateFunctionDto {
  @ApiProperty(LABEL_DOC)
  @IsFunctionLabel()
  label: string;

  @ApiPropertyOptional({ example: 'A sample function' })
  @IsOptional()
  @IsString()
  @MaxLength(1000)
  description?: string;

  // The OpenAPI document lists the templates and runtimes of the descriptors (the gateway fills them in).
  @ApiPropertyOptional({ type: String, example: 'typescript', description: "Build template; defaults from the runtime's." })
  @IsOptional()
  @IsString()
  @Matches(TEMPLATE_NAME_PATTERN, { message: 'template must be a template name such as typescript or python (GET /api/v1/runtimes lists them)' })
  template?: TemplateName;

  @ApiPropertyOptional({
    example: 'node',
    description: 'A runtime name with or without a version; GET /api/v1/runtimes lists them. Required unless `image` is sent.',
  })
  @ValidateIf((o: CreateFunctionDto) => o.image === undefined || o.runtime !== undefined)
  @IsString()
  @Matches(RUNTIME_NAME_PATTERN, { message: 'runtime must be a runtime name such as node, nodejs20 or python3.11 (GET /api/v1/runtimes lists them)' })
  runtime?: string;

  @ApiPropertyOptional({
    example: '127.0.0.1:5000/team/orders:v1',
    description:
      'Your own OCI image instead of code (registry/repository:tag or @sha256:...): its Entrypoint + Cmd serves HTTP on $PORT. ' +
      'The build pins a tag to its digest; the function runs on the image runtime.',
  })
  @IsOptional()
  @IsString()
  @MaxLength(512)
  image?: string;

  @ApiPropertyOptional({
    description: 'The handler code. With `files`, the entry point instead, as module.function (e.g. "function.handle").',
    example: 'export default function(data) { return data; }',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_HANDLER_BYTES)
  handler?: string;

  @ApiPropertyOptional({
    ...STRING_MAP,
    description:
      'Source files by relative path (package.json and requirements.txt are installed at build time). ' +
      'Values are UTF-8 text, or base64 when prefixed with "base64:".',
    example: { 'function.py': 'def handle(request):\n    return {"ok": True}\n', 'requirements.txt': '' },
  })
  @IsOptional()
  @IsObject()
  files?: Record<string, string>;

  @ApiPropertyOptional({ type: FunctionConfigDto })
  @IsOptional()
  @ValidateNested()
  @Type(() => FunctionConfigDto)
  config?: FunctionConfigDto;
}

/**
 * Body of PUT /api/v1/functions/{id}. A new label follows the rules of CreateFunctionDto; the registry checks it
 * only when it differs from the stored one, so a function made before those rules can still be sent back whole.
 */
export class UpdateFunctionDto extends PartialType(OmitType(CreateFunctionDto, ['label'] as const)) {
  @ApiPropertyOptional(LABEL_DOC)
  @IsOptional()
  @IsString({ message: 'label must be a string' })
  @MaxLength(200)
  label?: string;
}

/** The function's latest build, as its view shows it (GET .../builds/{buildId} has the whole build). */
export class BuildSummary {
  @ApiProperty({ ...UUID })
  id: string;

  @ApiProperty({ enum: BUILD_STATUSES, enumName: 'BuildStatus' })
  status: BuildStatus;

  @ApiPropertyOptional({ type: 'integer', description: 'The function version the build was requested for (absent for builds of before it was recorded).' })
  version?: number;

  @ApiProperty({
    type: String,
    nullable: true,
    example: `sha256:${'0f'.repeat(32)}`,
    description: "sha256 digest of the bundle (the function's layer), once the build SUCCEEDED.",
  })
  bundleDigest: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Image reference by digest, once the build SUCCEEDED with a registry configured.' })
  image: string | null;

  @ApiProperty({ type: String, nullable: true, description: 'Why the build FAILED.' })
  error: string | null;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  startedAt: string | null;

  @ApiProperty({ ...DATE_TIME, nullable: true })
  finishedAt: string | null;
}

/** A function as the API answers it. */
@ApiExtraModels(BuildSummary)
export class FunctionView {
  @ApiProperty({ ...UUID })
  id: string;

  @ApiProperty({ example: 'my-function' })
  label: string;

  @ApiProperty({ type: String, nullable: true })
  description: string | null;

  @ApiProperty({ type: String, example: 'python' })
  template: TemplateName;

  @ApiProperty({ example: 'python3.11' })
  runtime: string;

  @ApiProperty({
    type: () => ResolvedRuntime,
    description: 'What the runtime name runs on here: the exact version, and a warning when it is not the one asked for.',
  })
  resolvedRuntime: ResolvedRuntime;

  @ApiProperty({ type: [String], description: 'What the function should know, e.g. that its runtime version is not installed and a newer one runs it.' })
  warnings: string[];

  @ApiProperty({ type: String, nullable: true, description: 'The handler code, or with files the entry point; null in the answers that leave the code out.' })
  handler: string | null;

  @ApiProperty({ ...STRING_MAP, nullable: true, description: 'Source files by relative path; null for a function sent as handler code.' })
  files: Record<string, string> | null;

  @ApiProperty({ example: 'handler.*', description: 'module.function the runtime calls; "handler.*" finds the function in the module.' })
  entrypoint: string;

  @ApiProperty({ type: () => FunctionConfigDto, description: 'The configuration as it was sent; defaults are not filled in.' })
  config: FunctionConfigDto;

  @ApiProperty({ enum: FunctionStatus, enumName: 'FunctionStatus' })
  status: FunctionStatus;

  @ApiProperty({ type: String, nullable: true, description: 'Why the function is FAILED (build or deploy), in words a person can act on.' })
  statusReason: string | null;

  @ApiProperty({ type: 'integer', minimum: 1 })
  version: number;

  @ApiNullableModel(BuildSummary, { description: 'The latest build; null before the first.' })
  build: BuildSummary | null;

  @ApiProperty({ example: '/api/v1/functions/invoke/0b6f2c1e-4a5d-4f3b-9c8e-2d1a7b6c5e4f', description: 'Path of the invoke endpoint on the gateway.' })
  invokeUrl: string;

  @ApiProperty({ ...DATE_TIME })
  createdAt: string;

  @ApiProperty({ ...DATE_TIME })
  updatedAt: string;
}

/** What the deployer and invoker need to run a function's current build. */
export interface FunctionRuntimeSpec {
  functionId: string;
  label: string;
  version: number;
  runtime: string;
  family: RuntimeFamily;
  /** The exact version the registry resolved `runtime` to (absent from older registries): the invoker runs that interpreter. */
  runtimeVersion?: string;
  template: TemplateName;
  entrypoint: string;
  bundleDigest: string;
  image: string | null;
  config: EffectiveConfig;
}

export interface SetDeploymentStatusCommand {
  functionId: string;
  version: number;
  /** BUILT: undeployed, the build is still there. */
  status: FunctionStatus.Deploying | FunctionStatus.Ready | FunctionStatus.Failed | FunctionStatus.Built;
  reason?: string;
}
