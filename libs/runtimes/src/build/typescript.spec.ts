import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';

describe('the TypeScript compiler', () => {
  afterEach(() => jest.dontMock('typescript'));

  it('is not loaded by importing @platform/runtimes (the invoker and the CLI never compile)', () => {
    jest.doMock('typescript', () => {
      throw new Error('typescript was loaded');
    });
    jest.isolateModules(() => {
      const runtimes = require('../index');
      expect(typeof runtimes.compileTypeScript).toBe('function');
      expect(typeof runtimes.WorkerProcess).toBe('function');
    });
  });

  it('is loaded on the first compile', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hks-ts-'));
    try {
      writeFileSync(path.join(dir, 'handler.ts'), 'export default (n: number): number => n * 2;\n');
      let compiled = 0;
      jest.isolateModules(() => {
        const { compileTypeScript } = require('./typescript');
        compiled = compileTypeScript(dir, () => undefined);
      });
      expect(compiled).toBe(1);
      expect(readFileSync(path.join(dir, 'handler.js'), 'utf8')).toContain('exports.default = (n) => n * 2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
