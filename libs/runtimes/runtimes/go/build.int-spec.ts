import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BuildFailure } from '../../src/build/errors';
import { buildGo, GO_BINARY } from './build';

const SDK = path.join(__dirname, 'shim');
// The builder's default cache: the standard library is compiled once (CGO_ENABLED=0 -trimpath: about a minute here), then reused.
const cacheDir = path.join(os.tmpdir(), 'hks-go-cache');

async function build(files: Record<string, string>, entrypoint = 'handler.Handle'): Promise<{ dir: string; log: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hks-go-build-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  let log = '';
  try {
    await buildGo(
      dir,
      entrypoint,
      SDK,
      (t) => (log += t),
      (t) => (log += `\n==> ${t}\n`),
      { cacheDir, timeoutMs: 120_000 },
    );
  } catch (err) {
    (err as Error & { log?: string }).log = log;
    throw err;
  }
  return { dir, log };
}

async function failure(files: Record<string, string>, entrypoint?: string): Promise<{ message: string; log: string }> {
  try {
    await build(files, entrypoint);
  } catch (err) {
    expect(err).toBeInstanceOf(BuildFailure);
    return { message: (err as Error).message, log: (err as Error & { log: string }).log };
  }
  throw new Error('the build succeeded');
}

describe('Go build', () => {
  jest.setTimeout(180_000);

  it('compiles a handler package with the SDK into one static binary, writing go.mod when there is none', async () => {
    const { dir, log } = await build({
      'handler.go':
        'package function\n\nimport (\n\t"context"\n\t"hexabase.io/hks"\n)\n\nfunc Handle(ctx context.Context, req hks.Request) (hks.Response, error) {\n\treturn hks.Text(200, "hi"), nil\n}\n',
    });
    expect(existsSync(path.join(dir, GO_BINARY))).toBe(true);
    expect(log).toContain('no go.mod: wrote one (module function)');
    expect(log).toContain('go build');
  });

  it('builds a handler in a sub-package and modules from vendor/ with GOFLAGS=-mod=vendor', async () => {
    const { dir, log } = await build(
      {
        'go.mod': 'module example.com/fn\n\ngo 1.19\n\nrequire example.com/greet v1.0.0\n',
        'api/handler.go': 'package api\n\nimport "example.com/greet"\n\nfunc Handle(in map[string]string) string { return greet.Hi(in["name"]) }\n',
        'vendor/modules.txt': '# example.com/greet v1.0.0\n## explicit; go 1.19\nexample.com/greet\n',
        'vendor/example.com/greet/greet.go': 'package greet\n\nfunc Hi(n string) string { return "hi " + n }\n',
      },
      'api/handler.Handle',
    );
    expect(existsSync(path.join(dir, GO_BINARY))).toBe(true);
    expect(log).toContain('modules from vendor/ (GOFLAGS=-mod=vendor)');
  });

  it("fails with the compiler's file:line for a type error", async () => {
    const { message, log } = await failure({ 'handler.go': 'package function\n\nfunc Handle(in int) (string, error) {\n\treturn in, nil\n}\n' });
    expect(message).toMatch(/^go build failed: \.\/handler\.go:4:9: cannot use in \(variable of type int\) as (type )?string/);
    expect(log).toContain('./handler.go:4:9');
  });

  it("fails with the compiler's file:line for a syntax error", async () => {
    const { message } = await failure({ 'handler.go': 'package function\n\nfunc Handle( {\n' });
    expect(message).toMatch(/^go build failed: \.\/handler\.go:3:\d+: syntax error/);
  });

  it('names the missing function, a main package and a signature the runtime cannot call', async () => {
    expect((await failure({ 'handler.go': 'package function\n\nfunc Other() {}\n' })).message).toBe(
      'package function has no function Handle (the entry point names it): define func Handle(...)',
    );
    expect((await failure({ 'handler.go': 'package main\n\nfunc Handle() {}\n\nfunc main() {}\n' })).message).toMatch(
      /^Handle is in package main: a function is a package of its own/,
    );
    expect((await failure({ 'handler.go': 'package function\n\nfunc Handle(a, b, c int) {}\n' })).message).toMatch(
      /^Handle func\(int, int, int\) \(\) takes 3 parameters: write one of/,
    );
  });

  it('says where modules come from when one is neither vendored nor reachable', async () => {
    const { message } = await failure({ 'handler.go': 'package function\n\nimport "github.com/x/y"\n\nfunc Handle() string { return y.Z }\n' });
    expect(message).toMatch(/go build failed: .*github\.com\/x\/y.*vendor\/ \(go mod vendor\) or from the module proxy the builder sets with HKS_GOPROXY/);
  });

  it('refuses an entry point that names an unexported function', async () => {
    expect((await failure({ 'handler.go': 'package function\n' }, 'handler.handle')).message).toMatch(/"handle" is not an exported Go function name/);
  });
});
