import { ValidationError } from '@platform/contracts';
import { buildFiles, checkLabel, mergeUpdate, resolveSource, sameJson } from './function-rules';

function problem(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ValidationError);
    return (err as Error).message;
  }
  throw new Error('expected a ValidationError');
}

describe('function rules', () => {
  describe('runtime and template', () => {
    it('takes the template from the runtime when none is given', () => {
      expect(resolveSource({ runtime: 'python3.11', handler: 'def handle(e): return e' }).template).toBe('python');
      expect(resolveSource({ runtime: 'nodejs20', handler: 'module.exports.handle = (e) => e' }).template).toBe('node');
    });

    it('keeps the runtime as the user named it and derives its family', () => {
      const s = resolveSource({ runtime: 'python3.9', handler: 'x = 1' });
      expect(s).toMatchObject({ runtime: 'python3.9', family: 'python' });
    });

    it('accepts typescript and javascript templates on a node runtime', () => {
      expect(resolveSource({ runtime: 'node', template: 'typescript', handler: 'export default () => 1' }).template).toBe('typescript');
      expect(resolveSource({ runtime: 'node', template: 'javascript', handler: 'module.exports = () => 1' }).template).toBe('javascript');
    });

    it('rejects a template that does not run on the runtime, naming both', () => {
      expect(problem(() => resolveSource({ runtime: 'python3', template: 'typescript', handler: 'x' }))).toBe(
        'template "typescript" runs on node, but runtime "python3" is python; use a node runtime or the python template',
      );
      expect(problem(() => resolveSource({ runtime: 'node', template: 'python', handler: 'x' }))).toMatch(/template "python" runs on python/);
    });

    it('rejects a runtime the platform cannot run', () => {
      expect(problem(() => resolveSource({ runtime: 'ruby', handler: 'x' }))).toMatch(/runtime "ruby" is not supported/);
    });
  });

  describe('handler code', () => {
    it('requires the handler or files', () => {
      expect(problem(() => resolveSource({ runtime: 'node' }))).toMatch(/send the code: "handler" with the handler source, or "files"/);
    });

    it("places handler code in the template's default file with an auto-detected entry point", () => {
      const s = resolveSource({ runtime: 'node', template: 'typescript', handler: 'export default (d: unknown) => d;' });
      expect(s.entrypoint).toBe('handler.*');
      expect(buildFiles(s)).toEqual({ 'handler.ts': 'export default (d: unknown) => d;' });
      expect(buildFiles(resolveSource({ runtime: 'python', handler: 'def handle(e):\n  return e\n' }))).toEqual({
        'handler.py': 'def handle(e):\n  return e\n',
      });
      expect(Object.keys(buildFiles(resolveSource({ runtime: 'node', handler: 'module.exports = () => 1' })))).toEqual(['handler.js']);
    });

    it('rejects blank handler code', () => {
      expect(problem(() => resolveSource({ runtime: 'node', handler: '   ' }))).toMatch(/handler is empty/);
    });
  });

  describe('files', () => {
    const files = { 'function.py': 'def handle(r):\n  return 1\n', 'requirements.txt': '' };

    it('uses handler as the entry point module.function and keeps the files as they are', () => {
      const s = resolveSource({ runtime: 'python3.11', handler: 'function.handle', files });
      expect(s.entrypoint).toBe('function.handle');
      expect(buildFiles(s)).toEqual(files);
    });

    it("requires the entry point's module file to be among the files", () => {
      expect(problem(() => resolveSource({ runtime: 'python', handler: 'main.handle', files }))).toBe(
        'entry point "main.handle" needs the file main.py in files, but files has function.py, requirements.txt',
      );
    });

    it('finds node modules by their usual extensions and sub-folders', () => {
      expect(resolveSource({ runtime: 'node', handler: 'src/app.handle', files: { 'src/app.js': '' } }).entrypoint).toBe('src/app.handle');
      expect(resolveSource({ runtime: 'node', template: 'typescript', handler: 'handler.default', files: { 'handler.ts': '' } }).entrypoint).toBe(
        'handler.default',
      );
      expect(problem(() => resolveSource({ runtime: 'node', handler: 'handler.handle', files: { 'handler.ts': '' } }))).toMatch(/needs the file handler.js/);
    });

    it('finds python modules given with dots', () => {
      expect(resolveSource({ runtime: 'python', handler: 'pkg.mod.handle', files: { 'pkg/mod.py': '', 'pkg/__init__.py': '' } }).entrypoint).toBe(
        'pkg.mod.handle',
      );
    });

    it('detects the entry module when files come without a handler', () => {
      expect(resolveSource({ runtime: 'python', files }).entrypoint).toBe('function.*');
      expect(problem(() => resolveSource({ runtime: 'python', files: { 'lib.py': '' } }))).toMatch(
        /files has no handler.py, function.py, main.py, index.py, app.py; set handler to the entry point/,
      );
    });

    it('says so when code is sent as handler together with files', () => {
      expect(problem(() => resolveSource({ runtime: 'node', handler: 'module.exports = () => 1', files: { 'index.js': '' } }))).toMatch(
        /^with files, handler is the entry point as module.function/,
      );
    });

    it.each([
      ['/etc/passwd', 'is absolute'],
      ['../up.py', 'contains ".."'],
      ['a/../../b.py', 'contains ".."'],
      ['a//b.py', 'empty or "." segment'],
      ['./a.py', 'empty or "." segment'],
      ['a\\b.py', 'backslashes'],
      ['.hks/manifest.json', 'reserves'],
    ])('rejects the path %s', (path, why) => {
      expect(problem(() => resolveSource({ runtime: 'python', handler: 'function.handle', files: { ...files, [path]: 'x' } }))).toContain(why);
    });

    it('rejects an empty files object and malformed base64 content', () => {
      expect(problem(() => resolveSource({ runtime: 'python', files: {} }))).toMatch(/files is empty/);
      expect(problem(() => resolveSource({ runtime: 'python', files: { ...files, 'logo.png': 'base64:not base64!' } }))).toBe(
        'files["logo.png"] starts with "base64:" but the rest is not valid base64',
      );
      expect(resolveSource({ runtime: 'python', files: { ...files, 'logo.png': 'base64:iVBORw0KGgo=' } }).files).toHaveProperty(['logo.png']);
    });
  });

  it('refuses a label the gateway routes as a word, or one Knative would refuse, as a ValidationError', () => {
    expect(problem(() => checkLabel('swagger-ui'))).toMatch(/^label "swagger-ui" is reserved/);
    expect(problem(() => checkLabel('invoke'))).toMatch(/^label "invoke" is reserved/);
    expect(problem(() => checkLabel('9lives'))).toMatch(/^label must start with a lowercase letter/);
    expect(() => checkLabel('hello')).not.toThrow();
  });

  it('compares stored JSON regardless of key order and undefined fields', () => {
    expect(sameJson({ a: 1, b: { c: [1, 2] } }, { b: { c: [1, 2] }, a: 1, d: undefined })).toBe(true);
    expect(sameJson({ a: 1 }, { a: 2 })).toBe(false);
    expect(sameJson(null, undefined)).toBe(true);
  });
});

describe('merging an update into the stored source', () => {
  const code = { template: 'node' as const, runtime: 'node', handler: 'module.exports = () => 1', files: null };
  const withFiles = { template: 'python' as const, runtime: 'python3.11', handler: 'function.handle', files: { 'function.py': '' } };

  it('keeps what the update does not name', () => {
    expect(mergeUpdate(code, {})).toEqual({ runtime: 'node', template: 'node', handler: code.handler, files: null });
  });

  it('drops stored handler code when files arrive, so the entry point is detected from them', () => {
    const merged = mergeUpdate(code, { files: { 'index.js': 'module.exports = () => 2' } });
    expect(merged.handler).toBeNull();
    expect(resolveSource(merged).entrypoint).toBe('index.*');
  });

  it('asks for code when files are removed without new handler code', () => {
    expect(problem(() => resolveSource(mergeUpdate(withFiles, { files: null })))).toMatch(/send the code/);
    expect(resolveSource(mergeUpdate(withFiles, { files: null, handler: 'def handle(e): return e' })).entrypoint).toBe('handler.*');
  });

  it('takes the default template of a new runtime family unless one is named', () => {
    expect(mergeUpdate(code, { runtime: 'python3' }).template).toBeNull();
    expect(resolveSource(mergeUpdate(code, { runtime: 'python3', handler: 'x = 1' })).template).toBe('python');
    expect(mergeUpdate({ ...code, template: 'typescript' }, { runtime: 'nodejs20' }).template).toBe('typescript');
  });
});
