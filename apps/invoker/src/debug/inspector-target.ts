import { closeSync, constants, fstatSync, lstatSync, openSync, readSync } from 'fs';
import * as path from 'path';

/** The Node inspector's websocket path: its target id, a uuid. */
const INSPECTOR_PATH = /^\/[0-9a-f-]{36}$/;
/** inspector.json is a few dozen bytes: more is not the shim's. */
const MAX_JSON_BYTES = 4_096;

export interface InspectorTarget {
  /** The inspector's websocket path, checked (a uuid path: nothing the invoker writes on the wire could carry CRLF). */
  path: string;
  /** The relay's unix socket, as the invoker names it (never a path the sandbox wrote). */
  socket: string;
}

/**
 * What a debug worker's shim left in its session folder, read by the root invoker once the folder is locked
 * (WorkDirs.lockDebugDir): the sandbox wrote both entries and its own code ran before, so neither is trusted.
 * inspector.json must be a regular file (no symlink to a host file, no FIFO to block on) whose "path" is the
 * inspector's uuid path; inspector.sock must be a socket itself (a symlink would send the invoker to a host socket,
 * docker.sock say). Throws a message naming what is wrong.
 */
export function readInspectorTarget(dir: string): InspectorTarget {
  const json = path.join(dir, 'inspector.json');
  let fd: number;
  try {
    fd = openSync(json, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(code === 'ELOOP' ? 'inspector.json is a symbolic link, not the file the shim writes' : `inspector.json cannot be read (${code})`);
  }
  let text: string;
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new Error('inspector.json is not a regular file');
    if (st.size > MAX_JSON_BYTES) throw new Error(`inspector.json is ${st.size} bytes, more than the shim writes (${MAX_JSON_BYTES} at most)`);
    const buf = Buffer.alloc(st.size);
    const n = readSync(fd, buf, 0, st.size, 0);
    text = buf.subarray(0, n).toString('utf8');
  } finally {
    closeSync(fd);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error('inspector.json is not JSON');
  }
  const p = (parsed as { path?: unknown } | null)?.path;
  if (typeof p !== 'string' || !INSPECTOR_PATH.test(p)) {
    throw new Error('inspector.json\'s "path" is not the inspector\'s websocket path (a "/" and its uuid)');
  }
  return { path: p, socket: checkedSocket(dir) };
}

/** The relay's socket in `dir`: refused unless it is a unix socket itself (not a symlink, not a regular file). */
export function checkedSocket(dir: string): string {
  const socket = path.join(dir, 'inspector.sock');
  let st;
  try {
    st = lstatSync(socket);
  } catch (err) {
    throw new Error(`inspector.sock is missing (${(err as NodeJS.ErrnoException).code})`);
  }
  if (st.isSymbolicLink()) throw new Error('inspector.sock is a symbolic link, not the socket the relay listens on');
  if (!st.isSocket()) throw new Error('inspector.sock is not a unix socket');
  return socket;
}
