import { Controller, Delete, Get, HttpCode, Param, Post, Req } from '@nestjs/common';
import { ApiCreatedResponse, ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiParam, ApiProperty, ApiTags } from '@nestjs/swagger';
import type { Request } from 'express';
import { DebugSessionView, FUNCTIONS_PATH, NotFoundError, RESERVED_LABELS_NOTE, ValidationError } from '@platform/contracts';
import { principalOf } from '../access/api-key.guard';
import { ApiErrors, ApiManagementErrors } from '../docs/api-errors';
import { InvokerDebugClient } from './invoker-debug.client';

class DebugSessionEnded {
  @ApiProperty()
  sessionId!: string;

  @ApiProperty({ enum: [true] })
  ended!: true;
}

const ID = { name: 'id', description: 'Function id (uuid) or label' };
const SESSION = { name: 'session', description: 'The session id openDebugSession answered' };

/**
 * Debug sessions (admin keys): a worker of the function's own with the Node inspector attached, forwarded as a
 * websocket (DebugSocketRoute) to the key that opened the session only.
 */
@ApiTags('functions')
@ApiManagementErrors()
@Controller(FUNCTIONS_PATH)
export class DebugController {
  constructor(private readonly invoker: InvokerDebugClient) {}

  @Post(':id/debug')
  @HttpCode(201)
  @ApiOperation({
    operationId: 'openDebugSession',
    summary: 'Start a debug worker for a deployed Node function',
    description:
      `${RESERVED_LABELS_NOTE} ` +
      'Starts a worker of its own for the deployed version, with the Node inspector attached and no time limit on its invocations. ' +
      "It serves only the invocations that carry the header x-debug-session: <sessionId> (the function's other callers never wait on a breakpoint). " +
      'The inspector (Chrome DevTools protocol) is the websocket at websocketPath (GET /api/v1/functions/{id}/debug/{session}/ws with ' +
      '"Upgrade: websocket", answered 101; without a key 401, with any other key than the one that opened the session 404). ' +
      'The session ends on DELETE, after idleTimeoutMs with no debugger connected and no invocation, or when the function is redeployed.',
  })
  @ApiParam(ID)
  @ApiCreatedResponse({ type: DebugSessionView })
  @ApiErrors({
    400: 'Not a Node function (Python would need debugpy, which this platform does not have), or one from its own image',
    404: 'No function has this id or label',
    409: 'The function is not deployed, or runs on Knative',
    502: 'The debug worker could not start',
  })
  open(@Param('id') id: string, @Req() req: Request): Promise<DebugSessionView> {
    return this.invoker.open(id, principalOf(req)!.id);
  }

  @Get(':id/debug/:session')
  @ApiOperation({
    operationId: 'getDebugSession',
    summary: 'A debug session, while it is open (looking does not count as activity: an idle session still ends)',
    description: RESERVED_LABELS_NOTE,
  })
  @ApiParam(ID)
  @ApiParam(SESSION)
  @ApiOkResponse({ type: DebugSessionView })
  @ApiErrors({ 404: 'No such session is open for this API key (it ended, or another key opened it)' })
  async get(@Param('id') id: string, @Param('session') session: string, @Req() req: Request): Promise<DebugSessionView> {
    const view = await this.invoker.get(session, principalOf(req)!.id);
    if (view.functionId !== id && view.label !== id) throw new NotFoundError(`no debug session ${session} is open for function ${id}`);
    return view;
  }

  @Delete(':id/debug/:session')
  @HttpCode(200)
  @ApiOperation({
    operationId: 'endDebugSession',
    summary: 'End a debug session (its worker stops, its debugger is disconnected)',
    description: RESERVED_LABELS_NOTE,
  })
  @ApiParam(ID)
  @ApiParam(SESSION)
  @ApiOkResponse({ type: DebugSessionEnded })
  @ApiErrors({ 404: 'No such session is open for this API key and function' })
  async end(@Param('id') id: string, @Param('session') session: string, @Req() req: Request): Promise<{ sessionId: string; ended: true }> {
    await this.get(id, session, req);
    return this.invoker.end(session, principalOf(req)!.id);
  }

  /**
   * The websocket itself is answered by DebugSocketRoute (the server's upgrade event); a plain GET comes here for a
   * message saying so. Left out of the OpenAPI document, which (3.0) cannot describe a websocket and whose every
   * operation must have a 2xx answer: openDebugSession and DebugSessionView.websocketPath describe it.
   */
  @Get(':id/debug/:session/ws')
  @ApiExcludeEndpoint()
  notUpgraded(): never {
    throw new ValidationError('this is a websocket: connect with "Connection: Upgrade" and "Upgrade: websocket" (hks function debug --attach does)');
  }
}
