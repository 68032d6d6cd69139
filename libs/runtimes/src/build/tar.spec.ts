import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import * as tar from 'tar-stream';
import { gunzipSync } from 'zlib';
import { canonicalJson, inputDigest, sha256Digest } from './digest';
import { bundleDirectory, deterministicGzip, deterministicTar, readTar, TarEntry } from './tar';

async function headers(data: Buffer): Promise<tar.Header[]> {
  const extract = tar.extract();
  const out: tar.Header[] = [];
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (h, stream, next) => {
      out.push(h);
      stream.on('end', next);
      stream.resume();
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(data);
  await done;
  return out;
}

describe('deterministic tar', () => {
  const entries: TarEntry[] = [
    { path: 'b.txt', type: 'file', data: Buffer.from('bee') },
    { path: 'a', type: 'directory' },
    { path: 'a/run.sh', type: 'file', mode: 0o700, data: Buffer.from('#!/bin/sh\n') },
    { path: 'a/link', type: 'symlink', linkname: 'run.sh' },
  ];

  it('gives the same bytes for the same entries in any order', async () => {
    const one = await deterministicTar(entries);
    const two = await deterministicTar([...entries].reverse());
    expect(one.equals(two)).toBe(true);
    expect(sha256Digest(one)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });

  it('writes sorted paths with mtime 0, owner 0:0, no owner names and fixed modes', async () => {
    const hs = await headers(await deterministicTar(entries));
    expect(hs.map((h) => h.name)).toEqual(['a/', 'a/link', 'a/run.sh', 'b.txt']);
    for (const h of hs) {
      expect(h.mtime?.getTime()).toBe(0);
      expect([h.uid, h.gid]).toEqual([0, 0]);
      expect([h.uname, h.gname]).toEqual(['', '']);
    }
    expect(hs.map((h) => h.mode)).toEqual([0o755, 0o777, 0o755, 0o644]);
    expect(hs[1]).toMatchObject({ type: 'symlink', linkname: 'run.sh' });
  });

  it('keeps paths longer than 100 characters intact', async () => {
    const long = `${'deep/'.repeat(30)}file.js`;
    const back = await readTar(await deterministicTar([{ path: long, type: 'file', data: Buffer.from('x') }]));
    expect(back).toEqual([expect.objectContaining({ path: long, type: 'file', data: Buffer.from('x') })]);
  });

  it('rejects duplicate and escaping paths', async () => {
    await expect(deterministicTar([entries[0], entries[0]])).rejects.toThrow('duplicate tar entry "b.txt"');
    await expect(deterministicTar([{ path: '../evil', type: 'file', data: Buffer.from('') }])).rejects.toThrow('invalid tar entry path');
  });

  it('bundles two directories with the same content but different times and modes to the same digest', async () => {
    const dirs = [mkdtempSync(path.join(tmpdir(), 'hks-tar-')), mkdtempSync(path.join(tmpdir(), 'hks-tar-'))];
    try {
      dirs.forEach((dir, i) => {
        mkdirSync(path.join(dir, 'lib'));
        writeFileSync(path.join(dir, 'lib', 'util.js'), 'exports.x = 1;\n');
        writeFileSync(path.join(dir, 'handler.js'), 'module.exports.handle = () => 1;\n');
        chmodSync(path.join(dir, 'handler.js'), i === 0 ? 0o600 : 0o664);
        symlinkSync('lib/util.js', path.join(dir, 'alias.js'));
        utimesSync(path.join(dir, 'handler.js'), 1000 * (i + 1), 1000 * (i + 1));
      });
      const [a, b] = await Promise.all(dirs.map((d) => bundleDirectory(d)));
      expect(a.digest).toBe(b.digest);
      expect(a.size).toBe(a.tar.length);
      expect((await readTar(a.tar)).map((e) => e.path)).toEqual(['alias.js', 'handler.js', 'lib', 'lib/util.js']);
    } finally {
      dirs.forEach((d) => rmSync(d, { recursive: true, force: true }));
    }
  });
});

describe('deterministic gzip', () => {
  it('has a fixed header and round-trips', async () => {
    const data = Buffer.from('hello '.repeat(100));
    const gz = await deterministicGzip(data);
    expect(gz.readUInt32LE(4)).toBe(0);
    expect(gz[9]).toBe(255);
    expect((await deterministicGzip(data)).equals(gz)).toBe(true);
    expect(gunzipSync(gz).equals(data)).toBe(true);
  });
});

describe('input digest', () => {
  it('does not depend on key order and changes with any input', () => {
    const a = inputDigest({ template: 'node', files: { 'a.js': '1', 'b.js': '2' }, image: null });
    const b = inputDigest({ image: null, files: { 'b.js': '2', 'a.js': '1' }, template: 'node' });
    const c = inputDigest({ template: 'node', files: { 'a.js': '1', 'b.js': '3' }, image: null });
    expect(a).toBe(b);
    expect(a).not.toBe(c);
    expect(canonicalJson({ b: [{ d: 1, c: 2 }], a: undefined })).toBe('{"b":[{"c":2,"d":1}]}');
  });
});
