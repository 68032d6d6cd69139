import { mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import * as net from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import { checkedSocket, readInspectorTarget } from './inspector-target';

const UUID_PATH = '/0f8fad5b-d9cb-469f-a165-70867728950e';

describe('readInspectorTarget: what a debug worker left in its folder, checked before the invoker uses it', () => {
  let dir: string;
  let other: string;
  let server: net.Server | undefined;

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-debug-'));
    other = mkdtempSync(path.join(tmpdir(), 'hks-host-'));
  });
  afterEach(async () => {
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    server = undefined;
    rmSync(dir, { recursive: true, force: true });
    rmSync(other, { recursive: true, force: true });
  });

  /** A unix socket listening at `p`, as the relay's. */
  const listen = (p: string) =>
    new Promise<void>((resolve, reject) => {
      server = net.createServer((c) => c.destroy());
      server.once('error', reject);
      server.listen(p, () => resolve());
    });
  const writeJson = (value: unknown) => writeFileSync(path.join(dir, 'inspector.json'), typeof value === 'string' ? value : JSON.stringify(value));

  it("takes the shim's inspector.json and socket, naming the socket itself", async () => {
    await listen(path.join(dir, 'inspector.sock'));
    writeJson({ path: UUID_PATH, pid: 1, node: process.version });
    expect(readInspectorTarget(dir)).toEqual({ path: UUID_PATH, socket: path.join(dir, 'inspector.sock') });
  });

  it('refuses a "path" with CRLF (a smuggled request) or anything else than the uuid path', async () => {
    await listen(path.join(dir, 'inspector.sock'));
    for (const bad of [
      `${UUID_PATH} HTTP/1.1\r\nhost: x\r\n\r\nPOST /containers/create HTTP/1.1\r\n`,
      `${UUID_PATH}\r\n`,
      '/json/list',
      '0f8fad5b-d9cb-469f-a165-70867728950e',
      42,
    ]) {
      writeJson({ path: bad });
      expect(() => readInspectorTarget(dir)).toThrow('inspector.json\'s "path" is not the inspector\'s websocket path');
    }
    writeJson('not json');
    expect(() => readInspectorTarget(dir)).toThrow('inspector.json is not JSON');
  });

  it('refuses inspector.sock as a symlink to another socket (docker.sock, say)', async () => {
    const host = path.join(other, 'host.sock');
    await listen(host);
    symlinkSync(host, path.join(dir, 'inspector.sock'));
    writeJson({ path: UUID_PATH });
    expect(() => readInspectorTarget(dir)).toThrow('inspector.sock is a symbolic link');
    expect(() => checkedSocket(dir)).toThrow('inspector.sock is a symbolic link');
  });

  it('refuses inspector.sock as a regular file or a folder, and a missing one', () => {
    writeJson({ path: UUID_PATH });
    expect(() => readInspectorTarget(dir)).toThrow('inspector.sock is missing (ENOENT)');
    writeFileSync(path.join(dir, 'inspector.sock'), 'GET / HTTP/1.1\r\n');
    expect(() => readInspectorTarget(dir)).toThrow('inspector.sock is not a unix socket');
    rmSync(path.join(dir, 'inspector.sock'));
    mkdirSync(path.join(dir, 'inspector.sock'));
    expect(() => checkedSocket(dir)).toThrow('inspector.sock is not a unix socket');
  });

  it('refuses inspector.json as a symlink to a host file, or a folder', async () => {
    await listen(path.join(dir, 'inspector.sock'));
    const secret = path.join(other, 'secret.json');
    writeFileSync(secret, JSON.stringify({ path: UUID_PATH }));
    symlinkSync(secret, path.join(dir, 'inspector.json'));
    expect(() => readInspectorTarget(dir)).toThrow('inspector.json is a symbolic link');
    rmSync(path.join(dir, 'inspector.json'));
    mkdirSync(path.join(dir, 'inspector.json'));
    expect(() => readInspectorTarget(dir)).toThrow('inspector.json is not a regular file');
  });
});
