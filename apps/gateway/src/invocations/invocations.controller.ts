import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Post, Query, Req, Res } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBody, ApiOkResponse, ApiOperation, ApiParam, ApiTags, OmitType } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import {
  AcceptedInvocation,
  CallbackKeyView,
  INVOCATIONS_PATH,
  InvocationHeaders,
  InvocationListQueryDto,
  InvocationPage,
  InvocationPatterns,
  invocationStatusUrl,
  InvocationView,
  NotFoundError,
  RedriveManyDto,
  RedriveManyResult,
  ReplayInvocationDto,
  ValidationError,
} from '@platform/contracts';
import { RpcClient } from '@platform/messaging';
import { FunctionScoped, principalOf } from '../access/api-key.guard';
import { ApiErrors, ApiManagementErrors } from '../docs/api-errors';

class ReplayBodyDto extends OmitType(ReplayInvocationDto, ['id'] as const) {}

const ID = {
  name: 'id',
  description: 'Invocation id (uuid): the x-invocation-id of its answer, or invocationId of its 202',
  schema: { type: 'string', format: 'uuid' },
};
const invocationId = () => new ParseUUIDPipe({ exceptionFactory: () => new ValidationError('the invocation id must be a UUID') });
const NO_INVOCATION = 'No invocation has this id (neither an asynchronous one nor one the event store recorded)';

/**
 * Invocations: the asynchronous ones the deployer keeps (list, cancel, redrive the dead letters) and any recorded one
 * (get, replay). The deployer answers every route. Admin key (like every route not marked @Public()), except GET
 * and cancel of one invocation, which an invoke key of its function may use too: whoever could start it can follow
 * it (to any other key it does not exist: a 404, so ids of other functions cannot be probed).
 */
@ApiTags('invocations')
@ApiManagementErrors()
@Controller(INVOCATIONS_PATH.slice(1))
export class InvocationsController {
  constructor(private readonly rpc: RpcClient) {}

  @Get()
  @ApiOperation({ operationId: 'listInvocations', summary: 'List asynchronous invocations, newest first (status=dead: the dead letters)' })
  @ApiOkResponse({ type: InvocationPage })
  list(@Query() query: InvocationListQueryDto): Promise<InvocationPage> {
    return this.rpc.call('deployer', InvocationPatterns.List, query);
  }

  // Before GET :id, so that "callback-key" is not read as an invocation id.
  @Get('callback-key')
  @ApiOperation({ operationId: 'getCallbackKey', summary: 'The public key that verifies the signature of callbacks (Standard Webhooks, ed25519)' })
  @ApiOkResponse({ type: CallbackKeyView })
  callbackKey(): Promise<CallbackKeyView> {
    return this.rpc.call('deployer', InvocationPatterns.CallbackKey, {});
  }

  @Post('redrive')
  @HttpCode(200)
  @ApiOperation({ operationId: 'redriveInvocations', summary: 'Queue dead letters again: all of them, those of a function, or those named' })
  @ApiBody({ type: RedriveManyDto, required: false })
  @ApiOkResponse({ type: RedriveManyResult })
  @ApiErrors({ 413: true })
  redriveMany(@Body() body: RedriveManyDto): Promise<RedriveManyResult> {
    return this.rpc.call('deployer', InvocationPatterns.RedriveMany, body ?? {});
  }

  @Get(':id')
  @ApiOperation({
    operationId: 'getInvocation',
    summary: 'One invocation: its status, attempts (with their logs), result and callback',
    description: 'An admin key, or an invoke key of the function the invocation belongs to (to any other key it does not exist: 404).',
  })
  @ApiParam(ID)
  @ApiOkResponse({ type: InvocationView })
  @ApiErrors({ 404: NO_INVOCATION })
  @FunctionScoped()
  async get(@Param('id', invocationId()) id: string, @Req() req: Request): Promise<InvocationView> {
    const view = await this.rpc.call<InvocationView>('deployer', InvocationPatterns.Get, { id });
    this.mayFollow(req, view.functionId);
    return view;
  }

  @Post(':id/cancel')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'cancelInvocation',
    summary: 'Cancel a queued asynchronous invocation (it never runs again)',
    description: 'An admin key, or an invoke key of the function the invocation belongs to (to any other key it does not exist: 404).',
  })
  @ApiParam(ID)
  @ApiOkResponse({ type: InvocationView, description: 'The invocation, cancelled' })
  @ApiErrors({ 404: 'No asynchronous invocation has this id', 409: 'It is running or already ended: only a queued invocation can be cancelled' })
  @FunctionScoped()
  async cancel(@Param('id', invocationId()) id: string, @Req() req: Request): Promise<InvocationView> {
    if (principalOf(req)?.scope !== 'admin') {
      const view = await this.rpc.call<InvocationView>('deployer', InvocationPatterns.Get, { id });
      this.mayFollow(req, view.functionId);
    }
    return this.rpc.call('deployer', InvocationPatterns.Cancel, { id });
  }

  /** An invoke key sees only the invocations of the functions it may invoke. */
  private mayFollow(req: Request, functionId: string): void {
    const p = principalOf(req);
    if (p && p.scope !== 'admin' && !p.functions.includes(functionId)) throw new NotFoundError(NO_INVOCATION);
  }

  @Post(':id/redrive')
  @HttpCode(200)
  @ApiOperation({ operationId: 'redriveInvocation', summary: 'Queue a dead (or failed) invocation again, with a fresh set of attempts' })
  @ApiParam(ID)
  @ApiOkResponse({ type: InvocationView, description: 'The invocation, queued' })
  @ApiErrors({ 404: 'No asynchronous invocation has this id', 409: 'It is not dead or failed: only those can be redriven' })
  redrive(@Param('id', invocationId()) id: string): Promise<InvocationView> {
    return this.rpc.call('deployer', InvocationPatterns.Redrive, { id });
  }

  @Post(':id/replay')
  @HttpCode(202)
  @ApiOperation({ operationId: 'replayInvocation', summary: 'Run any recorded invocation again, as a new asynchronous invocation of the same request' })
  @ApiParam(ID)
  @ApiBody({ type: ReplayBodyDto, required: false })
  @ApiAcceptedResponse({
    type: AcceptedInvocation,
    description: 'The new invocation, queued',
    headers: {
      Location: { schema: { type: 'string' }, description: 'Where to follow it: GET /api/v1/invocations/{invocationId}' },
      [InvocationHeaders.InvocationId]: { schema: { type: 'string', format: 'uuid' }, description: 'The new invocation id' },
    },
  })
  @ApiErrors({
    404: NO_INVOCATION,
    409: 'Its stored request was cut (over 64 KiB when recorded), or version "original" is not deployed',
    413: true,
    429: "The function's queue of asynchronous invocations is full (scaling.asyncQueueSize), or over the rate limit",
  })
  async replay(@Param('id', invocationId()) id: string, @Body() body: ReplayBodyDto, @Res({ passthrough: true }) res: Response): Promise<AcceptedInvocation> {
    const command: ReplayInvocationDto = { id, ...(body?.version ? { version: body.version } : {}) };
    const accepted = await this.rpc.call<AcceptedInvocation>('deployer', InvocationPatterns.Replay, command);
    res.setHeader('location', invocationStatusUrl(accepted.invocationId));
    res.setHeader(InvocationHeaders.InvocationId, accepted.invocationId);
    return accepted;
  }
}
