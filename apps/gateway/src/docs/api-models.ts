import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { API_KEY_SCOPES, EVENT_STATUSES, EVENT_TYPES, FunctionConfigDto, FunctionStatus, TEMPLATES } from '@platform/contracts';

/**
 * Response shapes for the Swagger document. The wire types are interfaces in @platform/contracts
 * (FunctionView, BuildView, ...); these classes only describe them.
 */
export class ErrorDoc {
  @ApiProperty({ example: 404 }) statusCode: number;
  @ApiProperty({ example: 'Not Found' }) error: string;
  @ApiProperty({ example: 'function "my-function" does not exist' }) message: string;
  @ApiPropertyOptional() details?: unknown;
}

export class BuildSummaryDoc {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'] }) status: string;
  @ApiPropertyOptional() version?: number;
  @ApiPropertyOptional({ nullable: true, example: 'sha256:0f3c...' }) bundleDigest?: string | null;
  @ApiPropertyOptional({ nullable: true }) image?: string | null;
  @ApiPropertyOptional({ nullable: true }) error?: string | null;
  @ApiPropertyOptional({ nullable: true }) startedAt?: string | null;
  @ApiPropertyOptional({ nullable: true }) finishedAt?: string | null;
}

export class FunctionDoc {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'my-function' }) label: string;
  @ApiProperty({ nullable: true }) description: string | null;
  @ApiProperty({ enum: TEMPLATES }) template: string;
  @ApiProperty({ example: 'python3.11' }) runtime: string;
  @ApiProperty({ nullable: true, description: 'The handler code, or with files the entry point' }) handler: string | null;
  @ApiProperty({ nullable: true, type: 'object', additionalProperties: { type: 'string' } }) files: Record<string, string> | null;
  @ApiProperty({ example: 'handler.*' }) entrypoint: string;
  @ApiProperty({ type: FunctionConfigDto }) config: FunctionConfigDto;
  @ApiProperty({ enum: FunctionStatus }) status: FunctionStatus;
  @ApiProperty({ nullable: true }) statusReason: string | null;
  @ApiProperty() version: number;
  @ApiProperty({ type: BuildSummaryDoc, nullable: true }) build: BuildSummaryDoc | null;
  @ApiProperty({ example: '/api/v1/functions/invoke/0b6f...' }) invokeUrl: string;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class FunctionPageDoc {
  @ApiProperty({ type: [FunctionDoc] }) items: FunctionDoc[];
  @ApiProperty() total: number;
  @ApiProperty() limit: number;
  @ApiProperty() offset: number;
}

export class BuildDoc {
  @ApiProperty() id: string;
  @ApiProperty() functionId: string;
  @ApiProperty() version: number;
  @ApiProperty({ enum: ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED'] }) status: string;
  @ApiProperty({ nullable: true }) bundleDigest: string | null;
  @ApiProperty({ nullable: true }) bundleSize: number | null;
  @ApiProperty({ nullable: true }) image: string | null;
  @ApiProperty({ nullable: true }) imageDigest: string | null;
  @ApiProperty({ nullable: true }) inputDigest: string | null;
  @ApiProperty() cached: boolean;
  @ApiProperty({ nullable: true }) error: string | null;
  @ApiProperty({ description: 'The build log' }) log: string;
  @ApiProperty({ nullable: true }) startedAt: string | null;
  @ApiProperty({ nullable: true }) finishedAt: string | null;
  @ApiProperty() createdAt: string;
}

export class DeploymentDoc {
  @ApiProperty() id: string;
  @ApiProperty() functionId: string;
  @ApiProperty() version: number;
  @ApiProperty({ enum: ['local', 'knative'] }) driver: string;
  @ApiProperty({ enum: ['DEPLOYING', 'READY', 'FAILED', 'DELETED'] }) status: string;
  @ApiProperty() bundleDigest: string;
  @ApiProperty({ nullable: true }) image: string | null;
  @ApiProperty({ nullable: true }) url: string | null;
  @ApiProperty({ nullable: true }) reason: string | null;
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class DurationDoc {
  @ApiProperty({ nullable: true }) p50: number | null;
  @ApiProperty({ nullable: true }) p90: number | null;
  @ApiProperty({ nullable: true }) p95: number | null;
  @ApiProperty({ nullable: true }) p99: number | null;
  @ApiProperty({ nullable: true }) avg: number | null;
  @ApiProperty({ nullable: true }) max: number | null;
}

export class InvocationStatsDoc {
  @ApiProperty() functionId: string;
  @ApiProperty({ nullable: true }) from: string | null;
  @ApiProperty({ nullable: true }) to: string | null;
  @ApiProperty() invocations: number;
  @ApiProperty() successes: number;
  @ApiProperty() failures: number;
  @ApiProperty() errorRate: number;
  @ApiProperty() coldStarts: number;
  @ApiProperty({ type: DurationDoc }) durationMs: DurationDoc;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object' } }) series?: unknown[];
}

export class EventDoc {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'invocation.succeeded' }) name: string;
  @ApiProperty({ example: 'FUNCTION_INVOCATION', description: `One of the platform's types (${EVENT_TYPES.join(', ')}) or a custom type posted by a user, e.g. com.shop.order.placed` })
  type: string;
  @ApiProperty({ enum: EVENT_STATUSES }) status: string;
  @ApiProperty() timestamp: string;
  @ApiProperty() source: string;
  @ApiProperty({ nullable: true }) functionId: string | null;
  @ApiProperty({ nullable: true }) invocationId: string | null;
  @ApiPropertyOptional() payload: unknown;
  @ApiPropertyOptional() response: unknown;
  @ApiProperty({ nullable: true }) processingTimeMs: number | null;
  @ApiProperty({ nullable: true }) error: string | null;
  @ApiPropertyOptional({ nullable: true, type: 'object', additionalProperties: true }) metadata?: Record<string, unknown> | null;
}

export class EventPageDoc {
  @ApiProperty({ type: [EventDoc] }) items: EventDoc[];
  @ApiProperty() total: number;
  @ApiProperty() page: number;
  @ApiProperty() limit: number;
}

export class SecretDoc {
  @ApiProperty({ example: 'db' }) name: string;
  @ApiProperty({ example: ['password', 'user'] }) keys: string[];
  @ApiProperty() createdAt: string;
  @ApiProperty() updatedAt: string;
}

export class ApiKeyDoc {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ example: 'ci-deploy' }) name: string;
  @ApiProperty({ example: 'hks_Q2h3x9aB', description: 'The first characters of the key' }) prefix: string;
  @ApiProperty({ enum: API_KEY_SCOPES }) scope: string;
  @ApiProperty({ type: [String], description: 'Function ids an invoke key may call' }) functions: string[];
  @ApiProperty() createdAt: string;
  @ApiProperty({ nullable: true }) revokedAt: string | null;
}

export class CreatedApiKeyDoc extends ApiKeyDoc {
  @ApiProperty({ example: 'hks_Q2h3x9aB...', description: 'The key; shown this once, stored only as a hash' }) key: string;
}
