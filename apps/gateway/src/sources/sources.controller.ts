import { Body, Controller, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { NotFoundError, S3NotificationCommand, S3NotificationResult, SourcePatterns } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { FunctionScoped, principalOf } from '../access/api-key.guard';
import { FunctionAuthCache } from '../access/function-auth.cache';
import { ApiErrors } from '../docs/api-errors';

class S3NotificationAnswer implements S3NotificationResult {
  @ApiProperty({ format: 'uuid' })
  functionId: string;

  @ApiProperty({ description: 'Records the notification held.' })
  records: number;

  @ApiProperty({ description: "Events that matched the function's s3 triggers and were accepted as asynchronous invocations." })
  accepted: number;
}

const NOT_RECEIVING = 'No such function, it is not deployed, or it has no s3 trigger with mode "webhook"';

/**
 * Event sources that reach the platform over HTTP: S3 bucket notifications (MinIO's webhook target, AWS's S3 event
 * format, SNS Notification envelopes). An admin key, or an invoke key of the function.
 */
@ApiTags('sources')
@ApiErrors({ 400: true, 401: true, 403: true, 413: true, 429: true, 431: true, 503: true })
@Controller('api/v1/sources')
export class SourcesController {
  constructor(
    private readonly rpc: RpcClient,
    private readonly functions: FunctionAuthCache,
  ) {}

  @Post('s3/:function')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'postS3Notification',
    summary: "Receive an S3 bucket notification for a function's s3 triggers (point MinIO's notify_webhook or a forwarder here)",
    description:
      'Each record matching one of the s3 triggers (mode webhook) of the function (bucket, events, prefix, suffix) becomes an ' +
      'asynchronous invocation whose event is the record as a CloudEvent; 200 once all are committed (a sender retrying after an ' +
      'error causes no duplicate). MinIO: `mc admin config set ALIAS notify_webhook:hks endpoint=<gateway>/api/v1/sources/s3/<function> ' +
      'auth_token=<key>`.',
  })
  @ApiParam({ name: 'function', description: 'Function id (uuid) or label' })
  @ApiBody({ description: 'The notification: {"Records": [...]} in the S3 event format, or an SNS Notification carrying one', schema: { type: 'object' } })
  @ApiOkResponse({ type: S3NotificationAnswer })
  @ApiErrors({ 404: NOT_RECEIVING })
  @FunctionScoped()
  async s3(@Param('function') name: string, @Body() body: unknown, @Req() req: Request): Promise<S3NotificationResult> {
    const access = await this.functions.accessOf(name);
    const principal = principalOf(req);
    // To a key that may not invoke it, the function does not exist (ids and labels of others cannot be probed).
    if (!access.known || (principal?.scope !== 'admin' && !principal?.functions.includes(access.id))) {
      throw new NotFoundError(`${NOT_RECEIVING}: ${name}`);
    }
    const command: S3NotificationCommand = { functionId: access.id, body };
    return this.rpc.call('deployer', SourcePatterns.S3Notification, command);
  }
}
