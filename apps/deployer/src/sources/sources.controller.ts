import { Controller } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { isUuid, S3NotificationCommand, S3NotificationResult, SourcePatterns, ValidationError } from '@platform/contracts';
import { SourceHost } from './source-host';

/** RPC on the 'deployer' queue for the event sources the gateway receives (S3 webhooks). */
@Controller()
export class SourcesController {
  constructor(private readonly sources: SourceHost) {}

  @MessagePattern(SourcePatterns.S3Notification)
  s3Notification(@Payload() payload: Partial<S3NotificationCommand>): Promise<S3NotificationResult> {
    if (typeof payload?.functionId !== 'string' || !isUuid(payload.functionId)) throw new ValidationError('functionId must be a function id (UUID)');
    return this.sources.s3Notification(payload.functionId, payload.body);
  }
}
