import { execFile } from 'child_process';
import { transformFileSync } from '@swc/core';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { promisify } from 'util';
import { INTERNAL_TOKEN_FILE, resolveInternalToken } from './internal-token-file';

describe('the internal credential', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-token-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is HKS_INTERNAL_TOKEN when set, and then writes nothing', () => {
    expect(resolveInternalToken({ HKS_INTERNAL_TOKEN: 'from-a-secret', HKS_DATA_DIR: dir })).toBe('from-a-secret');
    expect(() => statSync(path.join(dir, INTERNAL_TOKEN_FILE))).toThrow();
  });

  it('is created at the first start as 32 random bytes in hex, readable by its owner only, and read back after', () => {
    const data = path.join(dir, 'nested', 'data');
    const first = resolveInternalToken({ HKS_DATA_DIR: data });
    expect(first).toMatch(/^[0-9a-f]{64}$/);
    const file = path.join(data, INTERNAL_TOKEN_FILE);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(resolveInternalToken({ HKS_DATA_DIR: data })).toBe(first);
    expect(resolveInternalToken({ HKS_DATA_DIR: dir })).not.toBe(first);
  });

  it('is the same for processes that start at once on one data directory', async () => {
    // The real function, compiled to plain JS, in six processes started together: the first link wins, the others read it.
    const js = path.join(dir, 'token.js');
    writeFileSync(
      js,
      transformFileSync(path.join(__dirname, 'internal-token-file.ts'), {
        jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
        module: { type: 'commonjs' },
      }).code,
    );
    const data = path.join(dir, 'data');
    const script = `process.stdout.write(require(${JSON.stringify(js)}).resolveInternalToken({ HKS_DATA_DIR: ${JSON.stringify(data)} }))`;
    const run = promisify(execFile);
    const tokens = await Promise.all(Array.from({ length: 6 }, () => run(process.execPath, ['-e', script]).then((r) => r.stdout)));
    expect(new Set(tokens).size).toBe(1);
    expect(tokens[0]).toMatch(/^[0-9a-f]{64}$/);
    expect(resolveInternalToken({ HKS_DATA_DIR: data })).toBe(tokens[0]);
    expect(readdirSync(data)).toEqual([INTERNAL_TOKEN_FILE]);
  });

  it('refuses a token file that holds something else, naming the file and the way out', () => {
    writeFileSync(path.join(dir, INTERNAL_TOKEN_FILE), 'not a token');
    expect(() => resolveInternalToken({ HKS_DATA_DIR: dir })).toThrow(/internal-token does not hold an internal credential .*HKS_INTERNAL_TOKEN/);
  });

  it('leaves no temporary file behind', () => {
    resolveInternalToken({ HKS_DATA_DIR: dir });
    expect(readFileSync(path.join(dir, INTERNAL_TOKEN_FILE), 'utf8')).toMatch(/^[0-9a-f]{64}$/);
    expect(readdirSync(dir)).toEqual([INTERNAL_TOKEN_FILE]);
  });
});
