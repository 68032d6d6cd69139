import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { checkJavaScriptSyntax } from './node';

describe('checkJavaScriptSyntax', () => {
  let dir: string;
  const log: string[] = [];
  const sink = (t: string) => log.push(t);

  function files(entries: Record<string, string>): void {
    for (const [rel, content] of Object.entries(entries)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), content);
    }
  }

  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-js-check-'));
    log.length = 0;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('passes CommonJS and ES modules that compile, without running them', async () => {
    files({
      'handler.js': "exports.handle = () => { throw new Error('never run'); };\nreturn;\n",
      'lib/esm.mjs': 'export const x = 1;\n',
      'node_modules/broken/index.js': 'this is not javascript (\n',
    });
    await expect(checkJavaScriptSyntax(dir, sink)).resolves.toBe(2);
  }, 30_000);

  it('fails on a syntax error, naming the file, the line and the error', async () => {
    files({ 'handler.js': "exports.handle = (data) => {\n  return { version: 'x' ;\n};\n", 'ok.js': 'module.exports = 1;\n' });
    await expect(checkJavaScriptSyntax(dir, sink)).rejects.toThrow(/^handler\.js:2: SyntaxError: /);
  }, 30_000);

  it('checks an ES module (.mjs, or "type": "module") as a module', async () => {
    files({ 'package.json': '{"type": "module"}', 'handler.js': 'export const handle = () => {;\n' });
    await expect(checkJavaScriptSyntax(dir, sink)).rejects.toThrow(/SyntaxError/);
    expect(log.join('')).toContain('handler.js');
  }, 30_000);
});
