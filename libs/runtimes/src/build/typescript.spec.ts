import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';

describe('the TypeScript compiler', () => {
  afterEach(() => jest.dontMock('typescript'));

  it('is not loaded by importing @platform/runtimes (the invoker and the CLI never compile)', async () => {
    jest.doMock('typescript', () => {
      throw new Error('typescript was loaded');
    });
    await jest.isolateModulesAsync(async () => {
      const runtimes = await import('../index');
      expect(typeof runtimes.compileTypeScript).toBe('function');
      expect(typeof runtimes.WorkerProcess).toBe('function');
    });
  });

  it('is loaded on the first compile', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hks-ts-'));
    try {
      writeFileSync(path.join(dir, 'handler.ts'), 'export default (n: number): number => n * 2;\n');
      let compiled = 0;
      await jest.isolateModulesAsync(async () => {
        const { compileTypeScript } = await import('./typescript');
        compiled = compileTypeScript(dir, () => undefined);
      });
      expect(compiled).toBe(1);
      expect(readFileSync(path.join(dir, 'handler.js'), 'utf8')).toContain('exports.default = (n) => n * 2');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
