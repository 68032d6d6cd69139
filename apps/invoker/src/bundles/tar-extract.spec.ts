import { createHash } from 'crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { Readable } from 'stream';
import * as tar from 'tar-stream';
import { entryPath, extractVerified } from './tar-extract';

type Entry = { name: string; type?: 'file' | 'directory' | 'symlink'; data?: string; linkname?: string; mode?: number };

async function tarOf(entries: Entry[]): Promise<{ bytes: Buffer; hex: string }> {
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve) => {
    pack.on('data', (c) => chunks.push(c as Buffer));
    pack.on('end', () => resolve(Buffer.concat(chunks)));
  });
  for (const e of entries) {
    if (e.type === 'directory') pack.entry({ name: e.name, type: 'directory' });
    else if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname });
    else pack.entry({ name: e.name, mode: e.mode ?? 0o644 }, Buffer.from(e.data ?? ''));
  }
  pack.finalize();
  const bytes = await done;
  return { bytes, hex: createHash('sha256').update(bytes).digest('hex') };
}

describe('unpacking a bundle', () => {
  let root: string;
  beforeEach(() => (root = mkdtempSync(path.join(tmpdir(), 'hks-unpack-'))));
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it('writes files, folders and symlinks, and lists them in order', async () => {
    const { bytes, hex } = await tarOf([
      { name: 'handler.js', data: 'module.exports = 1;' },
      { name: 'bin/run', data: '#!/bin/sh', mode: 0o755 },
      { name: 'lib', type: 'directory' },
      { name: 'lib/link', type: 'symlink', linkname: '../handler.js' },
    ]);
    const dir = path.join(root, 'b');
    const entries = await extractVerified(Readable.from([bytes]), dir, hex);
    expect(entries.map((e) => [e.path, e.type])).toEqual([
      ['handler.js', 'file'],
      ['bin/run', 'file'],
      ['lib', 'directory'],
      ['lib/link', 'symlink'],
    ]);
    expect(readFileSync(path.join(dir, 'handler.js'), 'utf8')).toBe('module.exports = 1;');
    expect(statSync(path.join(dir, 'bin/run')).mode & 0o777).toBe(0o755);
  });

  it('refuses a bundle whose sha256 is not the one deployed, and leaves nothing behind', async () => {
    const { bytes } = await tarOf([{ name: 'a.js', data: 'x' }]);
    const dir = path.join(root, 'b');
    await expect(extractVerified(Readable.from([bytes]), dir, 'f'.repeat(64))).rejects.toThrow(/sha256 is [0-9a-f]{64}, not the f+ it was deployed as/);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses to write through a symlink the tar itself created', async () => {
    const { bytes, hex } = await tarOf([
      { name: 'escape', type: 'symlink', linkname: root },
      { name: 'escape/pwned', data: 'x' },
    ]);
    await expect(extractVerified(Readable.from([bytes]), path.join(root, 'b'), hex)).rejects.toThrow(/writes "escape\/pwned" through the symlink "escape"/);
    expect(existsSync(path.join(root, 'pwned'))).toBe(false);
  });

  it('refuses absolute paths and ".." segments', () => {
    expect(() => entryPath('/etc/passwd')).toThrow(/unsafe path/);
    expect(() => entryPath('a/../../x')).toThrow(/unsafe path/);
    expect(entryPath('./a/b/')).toBe('a/b');
  });
});
