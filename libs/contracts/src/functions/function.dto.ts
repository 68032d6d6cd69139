import { ApiProperty, ApiPropertyOptional, OmitType, PartialType } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsObject, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateNested } from 'class-validator';
import { FunctionConfigDto, EffectiveConfig } from './function-config.dto';
import { FunctionStatus } from './function-status';
import type { BuildStatus } from '../builds/build';
import { IsFunctionLabel, LABEL_PATTERN, MAX_LABEL_LENGTH, RESERVED_LABELS } from './label';
import { RUNTIME_PATTERN, RuntimeFamily, TEMPLATES, TemplateName } from './runtime';

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

  @ApiPropertyOptional({ enum: TEMPLATES, example: 'typescript', description: 'Build template; defaults from the runtime.' })
  @IsOptional()
  @IsIn(TEMPLATES as unknown as string[], { message: `template must be one of ${TEMPLATES.join(', ')}` })
  template?: TemplateName;

  @ApiProperty({ example: 'node', description: 'node, nodejs20, python, python3, python3.11 ...' })
  @IsString()
  @Matches(RUNTIME_PATTERN, {
    message: 'runtime must be node (node, nodejs20, ...) or python (python, python3, python3.11, ...)',
  })
  runtime: string;

  @ApiPropertyOptional({
    description:
      'The handler code. With `files`, the entry point instead, as module.function (e.g. "function.handle").',
    example: 'export default function(data) { return data; }',
  })
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(MAX_HANDLER_BYTES)
  handler?: string;

  @ApiPropertyOptional({
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

export interface BuildSummary {
  id: string;
  status: BuildStatus;
  /** The function version the build was requested for. */
  version?: number;
  /** sha256 digest of the bundle (the function's layer). */
  bundleDigest?: string | null;
  /** Image reference by digest when a registry is configured. */
  image?: string | null;
  error?: string | null;
  startedAt?: string | null;
  finishedAt?: string | null;
}

export interface FunctionView {
  id: string;
  label: string;
  description: string | null;
  template: TemplateName;
  runtime: string;
  handler: string | null;
  files: Record<string, string> | null;
  entrypoint: string;
  config: FunctionConfigDto;
  status: FunctionStatus;
  /** Why the function is FAILED (build or deploy), in words a person can act on. */
  statusReason: string | null;
  version: number;
  build: BuildSummary | null;
  /** Path of the invoke endpoint on the gateway. */
  invokeUrl: string;
  createdAt: string;
  updatedAt: string;
}

/** What the deployer and invoker need to run a function's current build. */
export interface FunctionRuntimeSpec {
  functionId: string;
  label: string;
  version: number;
  runtime: string;
  family: RuntimeFamily;
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
