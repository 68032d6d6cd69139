import { existsSync, mkdtempSync, readFileSync, rmSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { BuildFailure } from './errors';
import { npmFailure } from './node';
import { prepareWorkspace } from './pipeline';
import { pipFailure, requirementLines } from './python';
import { BuildSource } from './workspace';

describe('build pipeline (no network)', () => {
  let dir: string;
  let log: string;
  const sink = (t: string) => {
    log += t;
  };
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-pipeline-'));
    log = '';
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const source = (s: Partial<BuildSource>): BuildSource => ({ template: 'node', runtime: 'node', family: 'node', entrypoint: 'handler.*', files: {}, ...s });

  it('compiles TypeScript next to the sources and writes the manifest', async () => {
    const ws = await prepareWorkspace(
      dir,
      source({ template: 'typescript', files: { 'handler.ts': 'export default function (data) { return process.env.X ?? data; }\n' } }),
      sink,
    );
    expect(ws.entryFile).toBe('handler.js');
    expect(readFileSync(path.join(dir, 'handler.js'), 'utf8')).toContain('exports.default = ');
    expect(JSON.parse(readFileSync(path.join(dir, '.hks/manifest.json'), 'utf8'))).toEqual({
      family: 'node',
      runtime: 'node',
      template: 'typescript',
      entrypoint: 'handler.*',
    });
  }, 30_000);

  it('fails a TypeScript build on a type error with file(line,col) and the TS code', async () => {
    const run = prepareWorkspace(dir, source({ template: 'typescript', files: { 'handler.ts': "const n: number = 'x';\nexport default () => n;\n" } }), sink);
    await expect(run).rejects.toThrow(new BuildFailure("handler.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'."));
    expect(log).toContain("handler.ts(1,7): error TS2322: Type 'string' is not assignable to type 'number'.");
    expect(existsSync(path.join(dir, 'handler.js'))).toBe(false);
  }, 30_000);

  it('fails a Python build on a syntax error, naming file and line', async () => {
    const run = prepareWorkspace(
      dir,
      source({ template: 'python', family: 'python', runtime: 'python3', files: { 'handler.py': 'def handle(x):\n    return (x\n\nprint(1)\n' } }),
      sink,
    );
    await expect(run).rejects.toThrow(/^handler\.py:2:\d+: SyntaxError: /);
  }, 30_000);

  it('names the missing module when the entry point has no file', async () => {
    const run = prepareWorkspace(dir, source({ entrypoint: 'main.handle', files: { 'handler.js': 'exports.handle = () => 1;' } }), sink);
    await expect(run).rejects.toThrow('entry point "main.handle" names module "main", but there is no main.js');
  });

  it('refuses file paths that leave the function or claim .hks/', async () => {
    await expect(prepareWorkspace(dir, source({ files: { '../x.js': '' } }), sink)).rejects.toThrow('invalid file path');
    await expect(prepareWorkspace(dir, source({ files: { '.hks/manifest.json': '{}' } }), sink)).rejects.toThrow('reserves');
  });

  it('reads npm errors as the missing package or version', () => {
    expect(
      npmFailure(
        "npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/nope-x\nnpm error 404  'nope-x@^1.0.0' is not in this registry.\n",
      ),
    ).toBe('npm install failed: package "nope-x" (^1.0.0) was not found in the npm registry');
    expect(npmFailure('npm error code ETARGET\nnpm error notarget No matching version found for is-number@^99.0.0.\n')).toBe(
      'npm install failed: no version of package "is-number" matches "^99.0.0"',
    );
    expect(npmFailure('npm error code E404\nnpm error 404 Not Found - GET https://registry.npmjs.org/@scope%2fpkg - Not found\n')).toBe(
      'npm install failed: package "@scope/pkg" was not found in the npm registry',
    );
  });

  it('reads pip errors as the missing distribution', () => {
    expect(
      pipFailure(
        'ERROR: Could not find a version that satisfies the requirement nope (from versions: none)\nERROR: No matching distribution found for nope\n',
        { wheelhouse: '/w' },
      ),
    ).toBe('pip install failed: no distribution of "nope" found in the wheelhouse /w');
    expect(requirementLines('# deps\nhks-tiny==1.0  # pinned\n\n')).toEqual(['hks-tiny==1.0']);
  });
});
