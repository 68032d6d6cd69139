import { Body, Controller, Delete, Get, Headers, HttpCode, Param, Post } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { DEBUG_OWNER_HEADER, DebugSessionView, INVOKER_DEBUG_PATH, ValidationError } from '@platform/contracts';
import { DebugSessions } from './debug-sessions';

/** The gateway's calls (internal credential, like every route here): open and end debug sessions. */
@ApiExcludeController()
@Controller(INVOKER_DEBUG_PATH.slice(1))
export class DebugController {
  constructor(private readonly sessions: DebugSessions) {}

  @Post()
  @HttpCode(201)
  open(@Body() body: unknown, @Headers(DEBUG_OWNER_HEADER) owner: string | undefined): Promise<DebugSessionView> {
    const fn = (body as { functionId?: unknown } | null)?.functionId;
    if (typeof fn !== 'string' || !fn) throw new ValidationError('functionId (the id or label of the function to debug) is required');
    return this.sessions.open(fn, owner ?? '');
  }

  /** Whether the session is still open (it does not count as activity: a session looked at is still idle). */
  @Get(':session')
  get(@Param('session') id: string, @Headers(DEBUG_OWNER_HEADER) owner: string | undefined): DebugSessionView {
    return this.sessions.owned(id, owner).view;
  }

  @Delete(':session')
  @HttpCode(200)
  end(@Param('session') id: string, @Headers(DEBUG_OWNER_HEADER) owner: string | undefined): { sessionId: string; ended: true } {
    this.sessions.owned(id, owner);
    this.sessions.close(id, 'ended by its owner');
    return { sessionId: id, ended: true };
  }
}
