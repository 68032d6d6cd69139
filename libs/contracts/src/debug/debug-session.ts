import { ApiProperty } from '@nestjs/swagger';
import { FUNCTIONS_PATH } from '../functions/label';

/**
 * Debug sessions (`hks function debug --attach`): a worker of its own per session, its Node inspector forwarded by
 * the gateway as a websocket to the key that opened it. Invocations reach it only with DEBUG_SESSION_HEADER.
 */
export const DEBUG_SESSION_HEADER = 'x-debug-session';
/** Gateway -> invoker: the id of the API key a debug request comes with (the session's owner). */
export const DEBUG_OWNER_HEADER = 'x-hks-debug-owner';
/** The invoker's internal routes. */
export const INVOKER_DEBUG_PATH = '/debug-sessions';

/** The gateway's websocket path of a session's inspector. */
export function debugSocketPath(functionId: string, sessionId: string): string {
  return `${FUNCTIONS_PATH}/${encodeURIComponent(functionId)}/debug/${encodeURIComponent(sessionId)}/ws`;
}

/** Matches the gateway's websocket path: [, function, session]. */
export const DEBUG_SOCKET_PATH = new RegExp(`^${FUNCTIONS_PATH}/([^/?#]+)/debug/([0-9a-f]{32})/ws(?:\\?.*)?$`);

export class DebugSessionView {
  @ApiProperty({ description: 'The session id: send it as the x-debug-session header of an invocation to run it on the debug worker.' })
  sessionId!: string;

  @ApiProperty({ format: 'uuid' })
  functionId!: string;

  @ApiProperty()
  label!: string;

  @ApiProperty({ description: 'The version the debug worker runs (the one deployed when the session opened).' })
  version!: number;

  @ApiProperty({ example: 'node', description: 'The runtime whose debugger is attached (node: the Chrome DevTools protocol).' })
  runtime!: string;

  @ApiProperty({
    description:
      'Where the inspector is: a websocket (GET with Upgrade) on the gateway, open only to the API key that opened the session ' +
      '(another key gets 404, none 401). Speaks the Chrome DevTools protocol.',
    example: '/api/v1/functions/0b9c.../debug/5f3a.../ws',
  })
  websocketPath!: string;

  @ApiProperty({ description: 'The session ends by itself after this long without a debugger connected or an invocation on it.' })
  idleTimeoutMs!: number;

  @ApiProperty({ description: "The debug worker's invocations have no time limit (resources.timeoutMs does not apply)." })
  timeoutDisabled!: boolean;

  @ApiProperty({ format: 'date-time' })
  openedAt!: string;
}
