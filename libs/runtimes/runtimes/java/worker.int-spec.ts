import { chmodSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runLocally } from '../../src/local/run-locally';
import { buildJava } from './build';
import { javaShimJar } from './shim-jar';

function readable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) readable(p);
    else chmodSync(p, 0o644);
  }
}

async function bundle(files: Record<string, string>, entrypoint: string): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hks-java-worker-'));
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  await buildJava(
    dir,
    entrypoint,
    javaShimJar(__dirname),
    () => undefined,
    () => undefined,
  );
  readable(dir);
  return dir;
}

const HANDLER = `import hks.*;
import java.util.Map;

public class Handler implements hks.Handler {
  public Response handle(Request req, Context ctx) {
    Object name = req.get("name");
    ctx.getLogger().log("hello " + name);
    System.out.println("printed");
    if (name == null) throw new IllegalStateException("no name");
    return Response.json(Map.of("name", name, "method", req.getMethod(), "path", req.getPath(), "id", ctx.getInvocationId(), "env", String.valueOf(System.getenv("GREETING"))));
  }
}
`;

describe('Java functions in the worker sandbox (runLocally: a JVM on the inherited channel, in bubblewrap)', () => {
  jest.setTimeout(240_000);

  it('runs an hks.Handler data style and HTTP style, with its logs and env', async () => {
    const dir = await bundle({ 'Handler.java': HANDLER }, 'Handler.*');
    const data = await runLocally({ bundleDir: dir, family: 'java', entrypoint: 'Handler.*', data: { name: 'Ann' }, env: { GREETING: 'hi' } });
    expect(data).toMatchObject({ statusCode: 200, sandboxed: true, json: { name: 'Ann', method: 'POST', path: '/', env: 'hi' } });
    expect(data.logs).toContain('] INFO hello Ann\n');
    expect(data.logs).toContain('printed\n');
    const http = await runLocally({
      bundleDir: dir,
      family: 'java',
      entrypoint: 'Handler.*',
      request: { method: 'PUT', path: '/x/y', headers: { 'content-type': 'application/json' }, body: '{"name":"Bo"}' },
    });
    expect(http.json).toMatchObject({ name: 'Bo', method: 'PUT', path: '/x/y' });
    const failed = await runLocally({ bundleDir: dir, family: 'java', entrypoint: 'Handler.*', data: {} });
    expect(failed).toMatchObject({ statusCode: 500, error: { name: 'IllegalStateException', message: 'no name' } });
  });

  it('runs a RequestHandler on the data and a named static method, and says what is wrong with an entry point', async () => {
    const dir = await bundle(
      {
        'Sum.java':
          'import java.util.Map;\n\npublic class Sum implements hks.RequestHandler<Map<String, Object>, Long> {\n  public Long handleRequest(Map<String, Object> in, hks.Context ctx) { return (Long) in.get("a") + (Long) in.get("b"); }\n\n  public static Object twice(Object in) { return java.util.List.of(in, in); }\n}\n',
      },
      'Sum.*',
    );
    expect(await runLocally({ bundleDir: dir, family: 'java', entrypoint: 'Sum.*', data: { a: 2, b: 3 } })).toMatchObject({ statusCode: 200, json: 5 });
    expect(await runLocally({ bundleDir: dir, family: 'java', entrypoint: 'Sum.twice', data: 'x' })).toMatchObject({ statusCode: 200, json: ['x', 'x'] });
    const missing = await runLocally({ bundleDir: dir, family: 'java', entrypoint: 'Nope.*', data: 1 });
    expect(missing.error?.message).toContain('cannot find the class Nope');
  });
});
