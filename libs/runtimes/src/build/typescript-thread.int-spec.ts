import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';

/** The built module (npm run build): its compileTypeScriptInThread runs the compiler in a worker thread. */
const BUILT = path.resolve(__dirname, '../../../../dist/libs/runtimes/src/build/typescript.js');

type Compile = (dir: string, log: (text: string) => void) => Promise<number>;

describe('the TypeScript compiler in its own thread (dist/)', () => {
  let compile: Compile;
  let dir: string;
  beforeAll(async () => {
    if (!existsSync(BUILT)) throw new Error(`${BUILT} is missing: run \`npm run build\` first`);
    compile = ((await import(BUILT)) as { compileTypeScriptInThread: Compile }).compileTypeScriptInThread;
  });
  beforeEach(() => (dir = mkdtempSync(path.join(tmpdir(), 'hks-ts-thread-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('compiles while this thread keeps serving its event loop, and streams the log', async () => {
    writeFileSync(path.join(dir, 'handler.ts'), 'export default (n: number): number => n * 2;\n');
    const log: string[] = [];
    let ticks = 0;
    const ticker = setInterval(() => ticks++, 5);
    try {
      expect(await compile(dir, (t) => log.push(t))).toBe(1);
    } finally {
      clearInterval(ticker);
    }
    expect(readFileSync(path.join(dir, 'handler.js'), 'utf8')).toContain('exports.default = (n) => n * 2');
    expect(log.join('')).toContain('tsc: compiling 1 file(s)');
    // Loading and running the compiler takes far longer than one tick; on this thread the ticker would have
    // stood still the whole time. Here the loop went on.
    expect(ticks).toBeGreaterThan(1);
  });

  it('fails the build with the first type error, as a BuildFailure', async () => {
    writeFileSync(path.join(dir, 'handler.ts'), 'const n: number = "two";\nexport default () => n;\n');
    const failed = await compile(dir, () => undefined).catch((err: Error) => err);
    expect(failed).toBeInstanceOf(Error);
    expect((failed as Error).name).toBe('BuildFailure');
    expect((failed as Error).message).toMatch(/handler\.ts\(1,7\): error TS2322/);
  });
});
