import { mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { hks } from '../../test/fake-gateway';

/** `hks function test` with the real build pipeline, runtime shims, Python, Node and (when installed) bubblewrap. */
describe('hks function test (runs locally, no platform)', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'hks-local-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const put = (name: string, content: string) => writeFileSync(path.join(dir, name), content);
  const test = (...args: string[]) => hks(['function', 'test', ...args], { cwd: dir, env: { HKS_CONFIG: '/none', GREETING: 'Bonjour' } });

  it('builds and runs a Python function with function.yaml, printing its response and, on stderr, its output', async () => {
    put('function.yaml', 'name: hello\nruntime: python3.11\nhandler: function.handle\nenvironment:\n  GREETING: ${GREETING}\n');
    put(
      'function.py',
      'import os\n\ndef handle(data):\n    print("greeting", data["name"])\n    return {"message": os.environ["GREETING"] + " " + data["name"]}\n',
    );
    const r = await test('--data', '{"name": "Alice"}');
    expect(r).toEqual({ code: 0, stdout: '{\n  "message": "Bonjour Alice"\n}\n', stderr: 'greeting Alice\n' });
  }, 60_000);

  it('compiles TypeScript as the platform does and gives JSON with -o json', async () => {
    put('handler.ts', 'export default function (data: { n: number }) {\n  return { double: data.n * 2 };\n}\n');
    const r = await test('--runtime', 'node', '--data', '{"n": 21}', '-o', 'json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ statusCode: 200, body: { double: 42 } });
  }, 60_000);

  it('shows the build log and exits 1 when the code does not build', async () => {
    put('function.py', 'def handle(data)\n    return data\n');
    const r = await test('--runtime', 'python3.11', '--handler', 'function.handle');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('  |     def handle(data)\n');
    expect(r.stderr).toContain("error: build failed: function.py:1:17: SyntaxError: expected ':'\n");
  }, 60_000);

  it('exits 1 naming the exception when the handler throws', async () => {
    put('function.py', 'def handle(data):\n    return 1 / 0\n');
    const r = await test('--runtime', 'python3.11');
    expect(r).toMatchObject({
      code: 1,
      stdout: '',
      stderr: expect.stringContaining('error: the function failed (HTTP 500): ZeroDivisionError: division by zero\n'),
    });
  }, 60_000);
});
