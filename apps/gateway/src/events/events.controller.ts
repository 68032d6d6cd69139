import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiProduces, ApiResponse, ApiTags, PickType } from '@nestjs/swagger';
import type { Response } from 'express';
import { CreateEventDto, EventPage, EventPatterns, EventQueryDto, PlatformEvent, ValidationError } from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { ErrorDoc, EventDoc, EventPageDoc } from '../docs/api-models';
import { EventStreamService } from './event-stream.service';

class EventStreamQueryDto extends PickType(EventQueryDto, ['functionId', 'type', 'status'] as const) {}

@ApiTags('events')
@ApiResponse({ status: 400, type: ErrorDoc })
@Controller('api/v3/events')
export class EventsController {
  constructor(
    private readonly rpc: RpcClient,
    private readonly stream: EventStreamService,
  ) {}

  @Get()
  @ApiOperation({ summary: 'Query events (newest first by default)' })
  @ApiOkResponse({ type: EventPageDoc })
  query(@Query() query: EventQueryDto): Promise<EventPage> {
    return this.rpc.call('event-store', EventPatterns.Query, query);
  }

  @Post()
  @HttpCode(201)
  @ApiOperation({ summary: 'Record an event; functions with an event trigger of its type run' })
  @ApiResponse({ status: 201, type: EventDoc })
  create(@Body() body: CreateEventDto): Promise<PlatformEvent> {
    return this.rpc.call('event-store', EventPatterns.Create, body);
  }

  @Get('stream')
  @ApiOperation({ summary: 'Server-Sent Events of new events as they happen, optionally filtered', description: 'Each frame: `id:` the event id, `event:` its CloudEvents type (dev.hks.invocation.succeeded, or a custom type), `data:` the CloudEvent 1.0 as JSON, as it is on the bus.' })
  @ApiProduces('text/event-stream')
  async streamEvents(@Query() filter: EventStreamQueryDto, @Res() res: Response): Promise<void> {
    await this.stream.open(res, filter);
  }

  @Get(':id')
  @ApiOperation({ summary: 'One event' })
  @ApiOkResponse({ type: EventDoc })
  @ApiResponse({ status: 404, type: ErrorDoc })
  get(
    @Param('id', new ParseUUIDPipe({ exceptionFactory: () => new ValidationError('event id must be a UUID') })) id: string,
  ): Promise<PlatformEvent> {
    return this.rpc.call('event-store', EventPatterns.Get, { id });
  }
}
