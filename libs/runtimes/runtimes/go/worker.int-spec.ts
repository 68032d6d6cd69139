import { chmodSync, mkdirSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runLocally } from '../../src/local/run-locally';
import { buildGo } from './build';

/** Everything readable by the sandbox's unprivileged user, as a bundle is once the invoker unpacked it. */
function readable(dir: string): void {
  chmodSync(dir, 0o755);
  for (const e of readdirSync(dir)) {
    const p = path.join(dir, e);
    if (statSync(p).isDirectory()) readable(p);
    else chmodSync(p, statSync(p).mode & 0o100 ? 0o755 : 0o644);
  }
}

async function bundle(files: Record<string, string>, entrypoint = 'handler.Handle'): Promise<string> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'hks-go-worker-'));
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  await buildGo(
    dir,
    entrypoint,
    path.join(__dirname, 'shim'),
    () => undefined,
    () => undefined,
    { cacheDir: path.join(os.tmpdir(), 'hks-go-cache') },
  );
  readable(dir);
  return dir;
}

const HANDLER = `package function

import (
	"context"
	"fmt"
	"os"

	"hexabase.io/hks"
)

func Handle(ctx context.Context, req hks.Request) (hks.Response, error) {
	var name string
	_, _ = req.Get("name", &name)
	hks.Logger(ctx).Printf("hello %s", name)
	fmt.Println("printed")
	if name == "" {
		return hks.Response{}, fmt.Errorf("no name")
	}
	return hks.JSON(200, map[string]any{"name": name, "method": req.Method, "path": req.Path, "id": hks.InvocationID(ctx), "env": os.Getenv("GREETING"), "uid": os.Getuid()})
}
`;

describe('Go functions in the worker sandbox (runLocally: the platform shim and bubblewrap)', () => {
  jest.setTimeout(240_000);

  it('runs an hks.Request handler data style and HTTP style, with its logs and env, as an unprivileged user', async () => {
    const dir = await bundle({ 'handler.go': HANDLER });
    const data = await runLocally({ bundleDir: dir, family: 'go', entrypoint: 'handler.Handle', data: { name: 'Ann' }, env: { GREETING: 'hi' } });
    expect(data).toMatchObject({ statusCode: 200, sandboxed: true, json: { name: 'Ann', method: 'POST', path: '/', env: 'hi' } });
    expect((data.json as { uid: number }).uid).not.toBe(0);
    expect(data.logs).toContain('] INFO hello Ann\n');
    expect(data.logs).toContain('printed\n');
    const http = await runLocally({
      bundleDir: dir,
      family: 'go',
      entrypoint: 'handler.Handle',
      request: { method: 'PUT', path: '/x/y', headers: { 'content-type': 'application/json' }, body: '{"name":"Bo"}' },
    });
    expect(http.json).toMatchObject({ name: 'Bo', method: 'PUT', path: '/x/y' });
    const failed = await runLocally({ bundleDir: dir, family: 'go', entrypoint: 'handler.Handle', data: {} });
    expect(failed).toMatchObject({ statusCode: 500, error: { name: 'Error', message: 'no name' } });
  });

  it('runs a net/http handler and a data-style func(T) (U, error)', async () => {
    const web = await bundle({
      'handler.go':
        'package function\n\nimport "net/http"\n\nfunc Handle(w http.ResponseWriter, r *http.Request) {\n\tw.Header().Set("content-type", "text/plain")\n\tw.WriteHeader(418)\n\t_, _ = w.Write([]byte(r.Method + " " + r.URL.Path))\n}\n',
    });
    expect(await runLocally({ bundleDir: web, family: 'go', entrypoint: 'handler.Handle', request: { method: 'GET', path: '/tea' } })).toMatchObject({
      statusCode: 418,
      text: 'GET /tea',
    });
    const data = await bundle({
      'handler.go': 'package function\n\ntype In struct{ A, B int }\n\nfunc Handle(in In) (int, error) { return in.A + in.B, nil }\n',
    });
    expect(await runLocally({ bundleDir: data, family: 'go', entrypoint: 'handler.Handle', data: { A: 2, B: 3 } })).toMatchObject({ statusCode: 200, json: 5 });
  });
});
