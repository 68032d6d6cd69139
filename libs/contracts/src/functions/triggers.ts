import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ANY_JSON } from '../openapi-schemas';
import { HTTP_AUTH } from './validators';

/* The triggers are checked by triggerProblem (IsTrigger); these classes are their types and their schemas. */

export class HttpTrigger {
  @ApiProperty({ enum: ['http'] })
  type: 'http';

  @ApiPropertyOptional({
    type: [String],
    example: ['GET', 'POST'],
    description: 'Methods it answers (GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS); all when absent.',
  })
  methods?: string[];

  @ApiPropertyOptional({ example: '/hello', description: 'Path under /fn/{label}; starts with "/".' })
  path?: string;

  @ApiPropertyOptional({
    enum: HTTP_AUTH,
    enumName: 'HttpTriggerAuth',
    description: '"none" opens /fn/{label} to anyone; "required" is the same as "api-key" (the default).',
  })
  auth?: (typeof HTTP_AUTH)[number];
}

export class QueueTrigger {
  @ApiProperty({ enum: ['queue'] })
  type: 'queue';

  @ApiProperty({ example: 'orders', description: 'The queue name.' })
  source: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 1000 })
  batchSize?: number;

  @ApiPropertyOptional({ type: 'integer', minimum: 0, maximum: 3_600_000 })
  maxBatchWaitMs?: number;
}

export class ScheduleTrigger {
  @ApiProperty({ enum: ['schedule'] })
  type: 'schedule';

  @ApiProperty({ example: '0 * * * *', description: 'A cron expression with five fields.' })
  cron: string;

  @ApiPropertyOptional({ example: 'Europe/Paris' })
  timezone?: string;

  @ApiPropertyOptional({ ...ANY_JSON, description: 'The data each scheduled invocation gets.' })
  data?: unknown;
}

export class EventTrigger {
  @ApiProperty({ enum: ['event'] })
  type: 'event';

  @ApiProperty({ example: 'ORDER_PLACED', description: 'The event type that triggers the function.' })
  eventType: string;
}

export type Trigger = HttpTrigger | QueueTrigger | ScheduleTrigger | EventTrigger;
/** Each trigger type and its class: the oneOf (with its discriminator) of config.triggers. */
export const TRIGGERS = { http: HttpTrigger, queue: QueueTrigger, schedule: ScheduleTrigger, event: EventTrigger };
