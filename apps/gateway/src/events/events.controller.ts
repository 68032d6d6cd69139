import { Controller, Get, Param, ParseUUIDPipe, Query, Res } from '@nestjs/common';
import { ApiExtraModels, ApiOkResponse, ApiOperation, ApiParam, ApiProduces, ApiTags, PickType } from '@nestjs/swagger';
import type { Response } from 'express';
import { CreateEventDto, EventPage, EventPatterns, EventQueryDto, PlatformEvent, ValidationError } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ApiErrors, ApiManagementErrors } from '../docs/api-errors';
import { EventStreamService } from './event-stream.service';

class EventStreamQueryDto extends PickType(EventQueryDto, ['functionId', 'type', 'status'] as const) {}

/** POST /api/v3/events is answered in front of Express (PostedEventsRoute) and described in docs/event-paths.ts. */
@ApiTags('events')
@ApiExtraModels(CreateEventDto, PlatformEvent)
@ApiManagementErrors()
@Controller('api/v3/events')
export class EventsController {
  constructor(
    private readonly rpc: RpcClient,
    private readonly stream: EventStreamService,
  ) {}

  @Get()
  @ApiOperation({ operationId: 'queryEvents', summary: 'Query events (newest first by default)' })
  @ApiOkResponse({ type: EventPage })
  query(@Query() query: EventQueryDto): Promise<EventPage> {
    return this.rpc.call('event-store', EventPatterns.Query, query);
  }

  @Get('stream')
  @ApiOperation({
    operationId: 'streamEvents',
    summary: 'Server-Sent Events of new events as they happen, optionally filtered',
    description:
      'A text/event-stream that stays open: first the comment ": connected", then one frame per event ' +
      '(id: the event id, event: its CloudEvents type, e.g. dev.hks.invocation.succeeded or a custom type, ' +
      'data: the CloudEvent 1.0 as JSON, as it is on the bus), and ": ping" every 15 s. ' +
      'Only events published after the stream opened are sent; query /api/v3/events for the ones before.',
  })
  @ApiProduces('text/event-stream')
  @ApiOkResponse({
    description: 'The stream; each data line is a PlatformEvent as JSON',
    content: {
      'text/event-stream': {
        schema: { type: 'string', example: 'id: 0b6f2c1e-4a5d-4f3b-9c8e-2d1a7b6c5e4f\nevent: invocation.succeeded\ndata: {"id":"0b6f2c1e-..."}\n\n' },
      },
    },
  })
  async streamEvents(@Query() filter: EventStreamQueryDto, @Res() res: Response): Promise<void> {
    await this.stream.open(res, filter);
  }

  @Get(':id')
  @ApiOperation({ operationId: 'getEvent', summary: 'One event' })
  @ApiParam({ name: 'id', description: 'Event id (uuid)', schema: { type: 'string', format: 'uuid' } })
  @ApiOkResponse({ type: PlatformEvent })
  @ApiErrors({ 404: 'No event has this id' })
  get(@Param('id', new ParseUUIDPipe({ exceptionFactory: () => new ValidationError('event id must be a UUID') })) id: string): Promise<PlatformEvent> {
    return this.rpc.call('event-store', EventPatterns.Get, { id });
  }
}
