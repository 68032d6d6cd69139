import { spawn } from 'child_process';
import { existsSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tar from 'tar-stream';
import { buildStaticGoProgram, freePort, pushTestImage, startOciRegistry, TEST_HTTP_SERVER_GO, TestOciRegistry } from '@platform/testing';
import { pinImage } from './image-build';
import { IMAGE_FILE, imageCommand, imageEnv, resolveImage } from './image-resolve';
import { parseImageReference } from './reference';
import { RegistryClient, RegistryError } from './registry-client';
import { ImageRootfsStore } from './rootfs';

jest.setTimeout(90_000);

interface RawEntry {
  name: string;
  type?: 'file' | 'directory' | 'symlink' | 'link';
  data?: Buffer | string;
  mode?: number;
  linkname?: string;
}

/** A layer tar as image builders write them (hard links and whiteouts included). */
function layer(entries: RawEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c) => void chunks.push(c as Buffer));
  const done = new Promise<Buffer>((resolve, reject) => {
    pack.on('end', () => resolve(Buffer.concat(chunks)));
    pack.on('error', reject);
  });
  for (const e of entries) {
    // Always with its (maybe empty) bytes: an entry without them waits for a stream to be written.
    const data = Buffer.from(e.data ?? '');
    pack.entry(
      { name: e.name, type: e.type ?? 'file', mode: e.mode ?? (e.type === 'directory' ? 0o755 : 0o644), linkname: e.linkname, size: data.length },
      data,
    );
  }
  pack.finalize();
  return done;
}

describe('OCI images: resolved over the distribution API and unpacked into a rootfs', () => {
  let registry: TestOciRegistry;
  let work: string;
  let server: Buffer;
  let pushed: { reference: string; digest: string; indexDigest?: string };
  const outside = path.join(tmpdir(), `hks-outside-${process.pid}`);

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'hks-rootfs-'));
    registry = await startOciRegistry();
    await buildStaticGoProgram(TEST_HTTP_SERVER_GO, path.join(work, 'server'));
    server = readFileSync(path.join(work, 'server'));
    const base = await layer([
      { name: 'bin/', type: 'directory' },
      { name: 'bin/server', data: server, mode: 0o700 },
      { name: 'etc/motd', data: 'base\n' },
      { name: 'gone/file', data: 'removed by the next layer\n' },
      { name: 'opaque/', type: 'directory' },
      { name: 'opaque/old', data: 'hidden by the opaque marker\n' },
      { name: 'usr/local/bin', type: 'symlink', linkname: '/bin' },
      { name: 'escape', type: 'symlink', linkname: outside },
      { name: 'srv/', type: 'directory' },
    ]);
    const top = await layer([
      { name: 'etc/motd', data: 'top\n' },
      { name: '.wh.gone' },
      { name: 'opaque/new', data: 'added with the marker\n' },
      { name: 'opaque/.wh..wh..opq' },
      { name: 'bin/server-again', type: 'link', linkname: 'bin/server' },
      // Through the symlinks: into the image's own /bin and /tmp/..., never the host's.
      { name: 'usr/local/bin/tool', data: '#!/bin/server\n', mode: 0o755 },
      { name: 'escape/pwned', data: 'must stay inside the rootfs\n' },
      { name: 'dev/null', data: 'not a device\n' },
    ]);
    pushed = await pushTestImage(
      registry,
      'user/server',
      'v1',
      [base, top],
      { Entrypoint: ['/bin/server'], Cmd: ['--from-cmd'], Env: ['FROM_IMAGE=yes', 'PATH=/bin'], WorkingDir: '/srv' },
      { index: true },
    );
  });

  afterAll(async () => {
    await registry?.stop();
    rmSync(work, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  const client = () => new RegistryClient(registry.host);

  it('resolves a tag through an index to the linux/amd64 manifest, pinned by digest, with its run config', async () => {
    const resolved = await resolveImage(client(), parseImageReference(pushed.reference));
    expect(resolved.manifestDigest).toBe(pushed.digest);
    expect(resolved.pinned).toBe(`${registry.host}/user/server@${pushed.digest}`);
    expect(resolved.layers).toHaveLength(2);
    expect(imageCommand(resolved.config)).toEqual(['/bin/server', '--from-cmd']);
    expect(resolved.config.workingDir).toBe('/srv');
    expect(imageEnv(resolved.config, { GREETING: 'hi' })).toEqual({ PATH: '/bin', FROM_IMAGE: 'yes', GREETING: 'hi' });
    // A pinned reference resolves to the same manifest.
    const again = await resolveImage(client(), parseImageReference(resolved.pinned));
    expect(again.manifestDigest).toBe(pushed.digest);
  });

  it('says which image does not exist (404) and which registry cannot be reached', async () => {
    const missing = resolveImage(client(), parseImageReference(`${registry.host}/user/nothing:v1`));
    await expect(missing).rejects.toThrow(RegistryError);
    await expect(missing).rejects.toMatchObject({ status: 404, message: `image ${registry.host}/user/nothing:v1 does not exist` });
    const port = await freePort();
    await expect(resolveImage(new RegistryClient(`127.0.0.1:${port}`), parseImageReference(`127.0.0.1:${port}/user/server:v1`))).rejects.toThrow(
      new RegExp(`registry 127.0.0.1:${port} is unreachable`),
    );
    await expect(resolveImage(client(), parseImageReference(pushed.reference), 'riscv64')).rejects.toThrow(/has no linux\/riscv64 variant/);
  });

  it("pins a build to the image's digest, written into the bundle, and fails the build with one line when it cannot", async () => {
    const dir = path.join(work, 'bundle');
    const log: string[] = [];
    const pinned = await pinImage(pushed.reference, dir, (t) => void log.push(t));
    expect(pinned.pinned).toBe(`${registry.host}/user/server@${pushed.digest}`);
    expect(JSON.parse(readFileSync(path.join(dir, IMAGE_FILE), 'utf8'))).toMatchObject({ pinned: pinned.pinned, manifestDigest: pushed.digest });
    expect(log.join('')).toContain(`pinned to ${pinned.pinned} (2 layer(s)`);
    await expect(pinImage(`${registry.host}/user/nothing:v9`, dir, () => undefined)).rejects.toThrow(`image ${registry.host}/user/nothing:v9: does not exist`);
    await expect(pinImage('no-registry-here', dir, () => undefined)).rejects.toThrow(/names no registry/);
    const port = await freePort();
    await expect(pinImage(`127.0.0.1:${port}/user/server:v1`, dir, () => undefined)).rejects.toThrow(
      new RegExp(`^image 127.0.0.1:${port}/user/server:v1: registry 127.0.0.1:${port} is unreachable`),
    );
  });

  it('applies the layers in order: whiteouts, opaque directories, hard links, symlinks kept inside the rootfs', async () => {
    const store = new ImageRootfsStore(path.join(work, 'images'));
    const resolved = await resolveImage(client(), parseImageReference(pushed.reference));
    const root = await store.ensure(client(), resolved);
    expect(root).toBe(path.join(work, 'images', 'rootfs', pushed.digest.slice('sha256:'.length)));
    expect(readFileSync(path.join(root, 'etc/motd'), 'utf8')).toBe('top\n');
    expect(existsSync(path.join(root, 'gone'))).toBe(false);
    expect(existsSync(path.join(root, 'opaque/old'))).toBe(false);
    expect(readFileSync(path.join(root, 'opaque/new'), 'utf8')).toBe('added with the marker\n');
    expect(statSync(path.join(root, 'bin/server-again')).ino).toBe(statSync(path.join(root, 'bin/server')).ino);
    // 0700 in the image: still readable and executable by the sandbox's user.
    expect(statSync(path.join(root, 'bin/server')).mode & 0o777).toBe(0o755);
    expect(readlinkSync(path.join(root, 'usr/local/bin'))).toBe('/bin');
    expect(readFileSync(path.join(root, 'bin/tool'), 'utf8')).toBe('#!/bin/server\n');
    expect(existsSync(path.join(outside, 'pwned'))).toBe(false);
    expect(readFileSync(path.join(root, outside.slice(1), 'pwned'), 'utf8')).toBe('must stay inside the rootfs\n');
    // The sandbox's mount points, made since its / is read-only.
    for (const dir of ['proc', 'dev', 'tmp', 'hks']) expect(statSync(path.join(root, dir)).isDirectory()).toBe(true);
    expect(statSync(path.join(root, 'dev')).isDirectory()).toBe(true);
  });

  it('pulls and unpacks an image once: a second deployment of the same digest needs no registry', async () => {
    const dir = path.join(work, 'images-cached');
    const store = new ImageRootfsStore(dir);
    const resolved = await resolveImage(client(), parseImageReference(pushed.reference));
    const [a, b] = await Promise.all([store.ensure(client(), resolved), store.ensure(client(), resolved)]);
    expect(a).toBe(b);
    const mtime = statSync(path.join(a, 'etc/motd')).mtimeMs;
    const offline = new RegistryClient(`127.0.0.1:${await freePort()}`);
    await expect(new ImageRootfsStore(dir).ensure(offline, resolved)).resolves.toBe(a);
    expect(statSync(path.join(a, 'etc/motd')).mtimeMs).toBe(mtime);
    expect(await new ImageRootfsStore(dir).has(resolved.manifestDigest)).toBe(true);
  });

  it("runs the image's own static program from its layers in bubblewrap, with the rootfs as / (Entrypoint + Cmd, Env, WorkingDir)", async () => {
    const store = new ImageRootfsStore(path.join(work, 'images'));
    const resolved = await resolveImage(client(), parseImageReference(pushed.reference));
    const root = await store.ensure(client(), resolved);
    const port = await freePort();
    const env = imageEnv(resolved.config, { PORT: String(port) });
    // The host's network here (no --unshare-net), so that the test can reach it; the invoker's workers have their own.
    const child = spawn(
      '/usr/bin/bwrap',
      [
        '--unshare-user',
        '--unshare-pid',
        '--die-with-parent',
        '--clearenv',
        ...Object.entries(env).flatMap(([k, v]) => ['--setenv', k, v]),
        '--ro-bind',
        root,
        '/',
        '--proc',
        '/proc',
        '--dev',
        '/dev',
        '--tmpfs',
        '/tmp',
        '--chdir',
        resolved.config.workingDir,
        '--',
        ...imageCommand(resolved.config),
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (c) => (output += c));
    child.stderr.on('data', (c) => (output += c));
    try {
      let answer: Record<string, unknown> | undefined;
      for (let i = 0; i < 100 && !answer; i++) {
        try {
          answer = (await (await fetch(`http://127.0.0.1:${port}/hello?x=1`)).json()) as Record<string, unknown>;
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
      expect(answer).toMatchObject({ path: '/hello', query: 'x=1', args: ['--from-cmd'], cwd: '/srv', fromImage: 'yes' });
      expect(output).toContain(`listening on 127.0.0.1:${port}`);
    } finally {
      child.kill('SIGKILL');
    }
  });
});
