import type { IncomingMessage } from 'http';
import * as net from 'net';
import type { Duplex } from 'stream';
import { DEBUG_OWNER_HEADER, httpReason, INTERNAL_TOKEN_HEADER, INVOKER_DEBUG_PATH } from '@platform/contracts';
import type { InternalCredential } from '@platform/config';
import type { DebugSessions } from './debug-sessions';
import { checkedSocket } from './inspector-target';

const SOCKET_PATH = new RegExp(`^${INVOKER_DEBUG_PATH}/([0-9a-f]{32})/ws(?:\\?.*)?$`);
/** What of the client's upgrade request the inspector needs (it takes no extension, and checks Host: it gets localhost). */
const PASSED = ['sec-websocket-key', 'sec-websocket-version', 'sec-websocket-protocol'];

export function refuseUpgrade(socket: Duplex, status: number, message: string): void {
  const body = JSON.stringify({ statusCode: status, error: httpReason(status), message });
  socket.end(
    `HTTP/1.1 ${status} ${httpReason(status)}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/**
 * GET /debug-sessions/{session}/ws with Upgrade (the gateway, with the internal credential and the caller's key id):
 * joins the connection to the debug worker's inspector through the unix socket its shim listens on. False when the
 * path is not this one.
 */
export function relayInspector(req: IncomingMessage, socket: Duplex, head: Buffer, sessions: DebugSessions, credential: InternalCredential): boolean {
  const m = SOCKET_PATH.exec(req.url ?? '');
  if (!m) return false;
  socket.on('error', () => socket.destroy());
  if (!credential.matches(req.headers[INTERNAL_TOKEN_HEADER])) {
    refuseUpgrade(socket, 401, 'the debug websocket is for the gateway only (internal credential)');
    return true;
  }
  const owner = req.headers[DEBUG_OWNER_HEADER];
  let session;
  try {
    session = sessions.owned(m[1], typeof owner === 'string' ? owner : undefined);
  } catch (err) {
    refuseUpgrade(socket, 404, (err as Error).message);
    return true;
  }
  const fn = new URL(req.url ?? '/', 'http://invoker').searchParams.get('function');
  if (fn !== null && fn !== session.functionId && fn !== session.label) {
    refuseUpgrade(socket, 404, `no debug session ${m[1]} is open for function ${fn}`);
    return true;
  }
  const s = session;
  let socketPath: string;
  try {
    // Checked when the session opened (its folder locked first); again here, it costs one lstat.
    socketPath = checkedSocket(s.dir);
  } catch (err) {
    refuseUpgrade(socket, 502, `the debug worker's inspector cannot be reached: ${(err as Error).message}`);
    return true;
  }
  const upstream = net.connect(socketPath);
  s.connections++;
  let counted = true;
  const done = () => {
    if (counted) {
      counted = false;
      s.connections--;
      s.lastActive = Date.now();
    }
    socket.destroy();
    upstream.destroy();
  };
  upstream.on('error', (err) => {
    if (!socket.destroyed && upstream.bytesRead === 0) refuseUpgrade(socket, 502, `the debug worker's inspector cannot be reached: ${err.message}`);
    done();
  });
  upstream.on('close', done);
  socket.on('close', done);
  upstream.on('connect', () => {
    const lines = [`GET ${s.inspectorPath} HTTP/1.1`, 'host: localhost', 'upgrade: websocket', 'connection: Upgrade'];
    for (const name of PASSED) {
      const v = req.headers[name];
      if (typeof v === 'string') lines.push(`${name}: ${v}`);
    }
    upstream.write(`${lines.join('\r\n')}\r\n\r\n`);
    if (head.length) upstream.write(head);
    upstream.pipe(socket);
    socket.pipe(upstream);
  });
  return true;
}
