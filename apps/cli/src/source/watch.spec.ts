import { EventEmitter } from 'events';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { isIgnoredChange, SerialRunner, SourceWatcher } from './watch';

/** A stand-in for fs.watch: the test says which file changed. */
function fakeWatch() {
  const emitter = new EventEmitter();
  let listener: (event: string, filename: string | null) => void = () => undefined;
  let closed = false;
  return {
    watch: (_dir: string, l: (event: string, filename: string | Buffer | null) => void) => {
      listener = l as typeof listener;
      return Object.assign(emitter, { close: () => (closed = true) });
    },
    change: (file: string | null) => listener('change', file),
    closed: () => closed,
  };
}

describe('isIgnoredChange', () => {
  it.each([
    'node_modules/x/index.js',
    '.git/index',
    '.function.py.swp',
    'src/.hidden',
    '__pycache__/f.pyc',
    'function.py~',
    '4913',
    'a.tmp',
    '.venv/bin/python',
  ])('ignores %s', (rel) => expect(isIgnoredChange(rel)).toBe(true));
  it.each(['function.py', 'handler.js', 'lib/util.ts', 'function.yaml', 'requirements.txt', 'v2/handler.js'])('keeps %s', (rel) =>
    expect(isIgnoredChange(rel)).toBe(false),
  );
});

describe('SourceWatcher', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('reports a burst of saves once, after the directory stayed quiet for the debounce', () => {
    const fs = fakeWatch();
    const changes: Array<{ paths: string[]; savedAt: number }> = [];
    const w = new SourceWatcher('/fn', (c) => changes.push(c), { debounceMs: 100, watch: fs.watch });
    w.start();
    const start = Date.now();
    fs.change('function.py');
    jest.advanceTimersByTime(60);
    fs.change('function.py');
    jest.advanceTimersByTime(60);
    fs.change('lib/util.py');
    jest.advanceTimersByTime(99);
    expect(changes).toEqual([]);
    jest.advanceTimersByTime(1);
    expect(changes).toEqual([{ paths: ['function.py', 'lib/util.py'], savedAt: start }]);
    // The next save is a new burst, timed from itself.
    fs.change('function.py');
    jest.advanceTimersByTime(100);
    expect(changes).toHaveLength(2);
    expect(changes[1].savedAt).toBe(start + 220);
    w.close();
    expect(fs.closed()).toBe(true);
  });

  it('does not report changes to dependencies, dotfiles or the ignore rules', () => {
    const fs = fakeWatch();
    const changes: unknown[] = [];
    const w = new SourceWatcher('/fn', (c) => changes.push(c), { debounceMs: 100, watch: fs.watch, ignores: (rel) => rel.startsWith('tests/') });
    w.start();
    for (const f of ['node_modules/a/index.js', '.git/HEAD', '.env', 'tests/test_function.py', 'function.py~']) fs.change(f);
    jest.advanceTimersByTime(1000);
    expect(changes).toEqual([]);
    w.close();
  });

  it('reports a change the platform did not name (no file name) as a change', () => {
    const fs = fakeWatch();
    const changes: Array<{ paths: string[] }> = [];
    const w = new SourceWatcher('/fn', (c) => changes.push(c), { debounceMs: 100, watch: fs.watch });
    w.start();
    fs.change(null);
    jest.advanceTimersByTime(100);
    expect(changes).toEqual([{ paths: [], savedAt: expect.any(Number) }]);
    w.close();
  });

  it('reports nothing once closed, even a burst under way', () => {
    const fs = fakeWatch();
    const changes: unknown[] = [];
    const w = new SourceWatcher('/fn', (c) => changes.push(c), { debounceMs: 100, watch: fs.watch });
    w.start();
    fs.change('function.py');
    w.close();
    jest.advanceTimersByTime(500);
    expect(changes).toEqual([]);
  });
});

describe('SourceWatcher on a real directory', () => {
  it('sees a file saved in a subdirectory (fs.watch, recursive)', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'hks-watch-'));
    mkdirSync(path.join(dir, 'lib'));
    mkdirSync(path.join(dir, 'node_modules'));
    try {
      const seen = new Promise<string[]>((resolve) => {
        const w = new SourceWatcher(dir, ({ paths }) => {
          w.close();
          resolve(paths);
        });
        w.start();
      });
      // Only the second write is code: the first must not be reported.
      writeFileSync(path.join(dir, 'node_modules', 'x.js'), '1');
      writeFileSync(path.join(dir, 'lib', 'util.py'), 'X = 1\n');
      expect(await seen).toEqual(['lib/util.py']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});

describe('SerialRunner', () => {
  it('runs one change at a time and coalesces the changes that came during a run into one more', async () => {
    const ran: number[] = [];
    let release: () => void = () => undefined;
    const runner = new SerialRunner<number>(
      async (n) => {
        ran.push(n);
        if (ran.length === 1) await new Promise<void>((r) => (release = r));
      },
      (err) => {
        throw err;
      },
      (a, b) => Math.min(a, b),
    );
    runner.push(5);
    runner.push(3);
    runner.push(4);
    await Promise.resolve();
    expect(ran).toEqual([5]);
    release();
    await runner.idle();
    expect(ran).toEqual([5, 3]);
  });

  it('reports a failed run and still runs the next change', async () => {
    const errors: string[] = [];
    const ran: number[] = [];
    const runner = new SerialRunner<number>(
      async (n) => {
        ran.push(n);
        await Promise.resolve();
        if (n === 1) throw new Error('build failed');
      },
      (err) => errors.push((err as Error).message),
    );
    runner.push(1);
    await runner.idle();
    runner.push(2);
    await runner.idle();
    expect(errors).toEqual(['build failed']);
    expect(ran).toEqual([1, 2]);
  });
});
