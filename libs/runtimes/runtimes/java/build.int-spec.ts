import { spawnSync } from 'child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { BuildFailure } from '../../src/build/errors';
import { buildJava } from './build';
import { javaShimJar } from './shim-jar';

const RUNTIME_DIR = __dirname;

function files(dir: string, list: Record<string, string>): void {
  for (const [name, text] of Object.entries(list)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
}

async function build(list: Record<string, string>, entrypoint = 'Handler.*'): Promise<{ dir: string; log: string }> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hks-java-build-'));
  files(dir, list);
  let log = '';
  try {
    await buildJava(
      dir,
      entrypoint,
      javaShimJar(RUNTIME_DIR),
      (t) => (log += t),
      (t) => (log += `\n==> ${t}\n`),
      { timeoutMs: 120_000 },
    );
  } catch (err) {
    (err as Error & { log?: string }).log = log;
    throw err;
  }
  return { dir, log };
}

async function failure(list: Record<string, string>, entrypoint?: string): Promise<{ message: string; log: string }> {
  try {
    await build(list, entrypoint);
  } catch (err) {
    expect(err).toBeInstanceOf(BuildFailure);
    return { message: (err as Error).message, log: (err as Error & { log: string }).log };
  }
  throw new Error('the build succeeded');
}

const HANDLER =
  'import hks.*;\n\npublic class Handler implements hks.Handler {\n  public Response handle(Request req, Context ctx) {\n    return Response.ok("hi " + req.get("name"));\n  }\n}\n';

describe('Java build', () => {
  jest.setTimeout(120_000);

  it('compiles the sources against the SDK into classes/ and checks the handler class', async () => {
    const { dir, log } = await build({ 'Handler.java': HANDLER });
    expect(existsSync(path.join(dir, 'classes', 'Handler.class'))).toBe(true);
    expect(log).toContain('Handler.*: a handler the runtime can call');
    expect(existsSync(path.join(dir, '.hks', 'javac-sources.txt'))).toBe(false);
  });

  it('compiles against the jars in lib/ (a package of src/main/java)', async () => {
    const lib = mkdtempSync(path.join(os.tmpdir(), 'hks-java-lib-'));
    files(lib, { 'src/greet/Greeter.java': 'package greet;\n\npublic class Greeter {\n  public static String hi(Object n) { return "hi " + n; }\n}\n' });
    expect(spawnSync('javac', ['-d', path.join(lib, 'classes'), path.join(lib, 'src/greet/Greeter.java')]).status).toBe(0);
    expect(spawnSync('jar', ['--create', '--file', path.join(lib, 'greet.jar'), '-C', path.join(lib, 'classes'), 'greet']).status).toBe(0);
    const dir = mkdtempSync(path.join(os.tmpdir(), 'hks-java-build-'));
    files(dir, {
      'src/main/java/com/example/Fn.java':
        'package com.example;\n\nimport java.util.Map;\n\npublic class Fn implements hks.RequestHandler<Map<String, Object>, String> {\n  public String handleRequest(Map<String, Object> in, hks.Context ctx) { return greet.Greeter.hi(in.get("name")); }\n}\n',
    });
    mkdirSync(path.join(dir, 'lib'));
    copyFileSync(path.join(lib, 'greet.jar'), path.join(dir, 'lib', 'greet.jar'));
    let log = '';
    await buildJava(
      dir,
      'com.example.Fn.handleRequest',
      javaShimJar(RUNTIME_DIR),
      (t) => (log += t),
      () => undefined,
    );
    expect(existsSync(path.join(dir, 'classes', 'com', 'example', 'Fn.class'))).toBe(true);
    expect(log).toContain('dependencies: lib/greet.jar');
  });

  it("fails with javac's file:line for a compile error", async () => {
    const { message, log } = await failure({ 'Handler.java': HANDLER.replace('return Response.ok', 'return Respons.ok') });
    expect(message).toBe('javac failed: Handler.java:5: error: cannot find symbol');
    expect(log).toContain('Handler.java:5: error: cannot find symbol');
  });

  it('says which jar is missing from lib/', async () => {
    const { message } = await failure({ 'Handler.java': `import com.google.gson.Gson;\n${HANDLER}` });
    expect(message).toBe('javac failed: Handler.java:1: error: package com.google.gson does not exist (put the jar that provides com.google.gson in lib/)');
  });

  it('fails when the entry point names no handler, without running the class', async () => {
    const marker = path.join(os.tmpdir(), `hks-java-static-init-${process.pid}`);
    const { message } = await failure(
      {
        'Handler.java': `public class Handler {\n  static { try { java.nio.file.Files.writeString(java.nio.file.Path.of(${JSON.stringify(marker)}), "ran"); } catch (Exception e) { throw new RuntimeException(e); } }\n  public String other() { return ""; }\n}\n`,
      },
      'Handler.handle',
    );
    expect(message).toBe('Handler has no public method handle(Request, Context), handle(Request), handle(Map, Context) or handle(Map)');
    expect(existsSync(marker)).toBe(false);
    expect((await failure({ 'Other.java': 'public class Other {}\n' }, 'Handler.*')).message).toBe(
      "cannot find the class Handler in the function's code (classes/ and lib/*.jar)",
    );
  });
});
