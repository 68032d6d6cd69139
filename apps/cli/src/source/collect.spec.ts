import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { UsageError } from '../errors';
import { collectFiles } from './collect';
import { IgnoreRules } from './ignore';

describe('the files `hks function deploy` uploads', () => {
  let dir: string;
  const put = (rel: string, content: string | Buffer = '') => {
    mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    writeFileSync(path.join(dir, rel), content);
  };

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-collect-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('takes every file but .git, node_modules, __pycache__, .venv and .hks, with "/" paths', () => {
    put('function.py', 'def handle(r): return 1\n');
    put('lib/util.py', 'X = 1\n');
    put('.git/HEAD', 'ref');
    put('node_modules/x/index.js', '');
    put('lib/__pycache__/util.cpython-311.pyc', Buffer.from([0, 1, 2]));
    put('.venv/bin/python', '');
    put('.hks/manifest.json', '{}');
    put('sub/.hks/kept.txt', "only the top-level .hks is the platform's");
    expect(collectFiles(dir)).toEqual({
      'function.py': 'def handle(r): return 1\n',
      'lib/util.py': 'X = 1\n',
      'sub/.hks/kept.txt': "only the top-level .hks is the platform's",
    });
  });

  it('sends binary files, and text starting with "base64:", as base64', () => {
    put('logo.png', Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0xff]));
    put('latin1.txt', Buffer.from([0xe9, 0x74, 0xe9]));
    put('tricky.txt', 'base64:not really');
    put('utf8.txt', 'héllo ✓');
    const files = collectFiles(dir);
    expect(files['logo.png']).toBe(`base64:${Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 0xff]).toString('base64')}`);
    expect(files['latin1.txt']).toBe('base64:6XTp');
    expect(Buffer.from(files['tricky.txt'].slice(7), 'base64').toString()).toBe('base64:not really');
    expect(files['utf8.txt']).toBe('héllo ✓');
  });

  it('leaves out what .hksignore lists, with negation and directory patterns', () => {
    put('.hksignore', '# tests stay local\ntests/\n*.log\n!keep.log\n/build\n');
    put('handler.js', '');
    put('tests/handler.test.js', '');
    put('debug.log', '');
    put('keep.log', '');
    put('build/out.js', '');
    put('src/build/kept.js', '');
    expect(Object.keys(collectFiles(dir))).toEqual(['.hksignore', 'handler.js', 'keep.log', 'src/build/kept.js']);
  });

  it('follows symbolic links and refuses broken ones by name', () => {
    put('shared/real.py', 'A = 1\n');
    symlinkSync(path.join(dir, 'shared/real.py'), path.join(dir, 'alias.py'));
    expect(collectFiles(dir)['alias.py']).toBe('A = 1\n');
    symlinkSync(path.join(dir, 'missing.py'), path.join(dir, 'broken.py'));
    expect(() => collectFiles(dir)).toThrow(new UsageError('broken.py is a broken symbolic link; remove it or add it to .hksignore'));
  });

  it('refuses a directory that does not exist', () => {
    expect(() => collectFiles(path.join(dir, 'nope'))).toThrow(/nope is not a directory/);
  });
});

describe('.hksignore patterns', () => {
  const rules = new IgnoreRules(IgnoreRules.parse('**/fixtures/**\ndocs/*.md\n*.tmp\n\\#literal\n'));
  it.each([
    ['a/fixtures/x.json', false, true],
    ['fixtures/x.json', false, true],
    ['docs/readme.md', false, true],
    ['docs/deep/readme.md', false, false],
    ['x/y.tmp', false, true],
    ['#literal', false, true],
    ['src/node_modules', true, true],
    ['src/node_modules', false, false],
    ['handler.py', false, false],
  ])('%s (directory: %s) ignored: %s', (p, isDir, ignored) => {
    expect(rules.ignores(p, isDir)).toBe(ignored);
  });
});
