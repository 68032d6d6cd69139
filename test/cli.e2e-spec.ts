import { execFile, spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { createServer } from 'net';
import { tmpdir } from 'os';
import * as path from 'path';
import { RunningPlatform, startPlatform } from './support/platform';

const BIN = path.resolve(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');
// Each step runs the hks binary one or more times (a second or more each on a loaded machine): the project's
// testTimeout does not reach tests in a projects config, so the file sets its own.
jest.setTimeout(60_000);

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/**
 * The `hks` binary as a user runs it (built by `npm run build`), against the six services started as processes:
 * deploy from a directory with function.yaml, invoke, list, describe, logs, stats, the errors a user meets, delete.
 */
describe('the hks command line against the real platform', () => {
  let p: RunningPlatform;
  let work: string;
  let home: string;

  function hks(args: string[], o: { cwd?: string; env?: Record<string, string> } = {}): Promise<Run> {
    return new Promise((resolve) => {
      execFile(
        process.execPath,
        [BIN, ...args],
        {
          cwd: o.cwd ?? work,
          // A clean environment, as on a user's machine: only the gateway URL comes from outside.
          env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HKS_GATEWAY_URL: p.gatewayUrl, ...o.env },
          timeout: 180_000,
        },
        (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
      );
    });
  }

  /** Events reach the event store asynchronously: ask again until the answer shows what is expected. */
  async function eventually(args: string[], ok: (r: Run) => boolean, timeoutMs = 20_000): Promise<Run> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = await hks(args);
      if (ok(r) || Date.now() > deadline) return r;
      await new Promise((res) => setTimeout(res, 300));
    }
  }

  function functionDir(name: string, files: Record<string, string>): string {
    const dir = path.join(work, name);
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), content);
    }
    return dir;
  }

  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
    work = mkdtempSync(path.join(tmpdir(), 'hks-cli-e2e-'));
    home = path.join(work, 'home');
    mkdirSync(home);
    p = await startPlatform();
    // As a user would after scripts/start printed the key: hks keeps it in ~/.config/hks/config.yaml.
    const login = await hks(['login', '--api-key', p.adminKey]);
    expect(login.code).toBe(0);
  }, 180_000);

  afterAll(async () => {
    // stop() throws when answers differed from the OpenAPI document: clean up all the same.
    try {
      await p?.stop();
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('prints its help', async () => {
    const r = await hks(['--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: hks');
    expect(r.stdout).toContain('function|fn');
  });

  it('deploys a Python function from a directory with function.yaml and prints its URL', async () => {
    const dir = functionDir('hello', {
      'function.yaml': [
        'name: cli-hello',
        'runtime: python3.11',
        'handler: function.handle',
        'description: Says hello',
        'triggers:',
        '  - http: {methods: [GET, POST]}',
        'resources: {memory: 128Mi, timeout: 10s}',
        'environment:',
        '  GREETING: ${GREETING:-Hello}',
        '',
      ].join('\n'),
      'function.py': [
        'import os',
        '',
        'def handle(data):',
        '    name = data.get("name", "world")',
        '    print(f"greeting {name}")',
        '    return {"message": f"{os.environ[\'GREETING\']} {name}"}',
        '',
      ].join('\n'),
      'tests/test_function.py': 'raise SystemExit("tests are not uploaded")\n',
      '.hksignore': 'tests/\n',
    });
    const r = await hks(['function', 'deploy'], { cwd: dir, env: { GREETING: 'Bonjour' } });
    expect(r.stderr).toContain('creating cli-hello (3 files)');
    expect(r.stdout).toContain(`URL:    ${p.gatewayUrl}/fn/cli-hello`);
    expect(r.code).toBe(0);
  }, 180_000);

  it('invokes the function and prints its response', async () => {
    const r = await hks(['function', 'invoke', 'cli-hello', '--data', '{"name": "Alice"}']);
    expect(r).toEqual({ code: 0, stdout: '{\n  "message": "Bonjour Alice"\n}\n', stderr: '' });
    const json = await hks(['function', 'invoke', 'cli-hello', '--data', '{"name": "Bob"}', '-o', 'json']);
    expect(JSON.parse(json.stdout)).toMatchObject({ status: 200, body: { message: 'Bonjour Bob' } });
  }, 60_000);

  it('serves the function at the URL it printed', async () => {
    const res = await fetch(`${p.gatewayUrl}/fn/cli-hello`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${p.adminKey}` },
      body: '{"name": "Carol"}',
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ message: 'Bonjour Carol' });
  });

  it('lists and describes the function as JSON', async () => {
    const list = await hks(['function', 'list', '-o', 'json']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ label: 'cli-hello', status: 'READY' })]));
    const described = await hks(['function', 'describe', 'cli-hello', '-o', 'json']);
    expect(JSON.parse(described.stdout)).toMatchObject({
      label: 'cli-hello',
      runtime: 'python3.11',
      description: 'Says hello',
      entrypoint: 'function.handle',
      config: { env: { GREETING: 'Bonjour' }, resources: { memoryMb: 128, timeoutMs: 10_000 }, triggers: [{ type: 'http', methods: ['GET', 'POST'] }] },
    });
    expect(Object.keys(JSON.parse(described.stdout).files).sort()).toEqual(['.hksignore', 'function.py', 'function.yaml']);
    const table = await hks(['function', 'describe', 'cli-hello']);
    expect(table.stdout).toContain(`URL:         ${p.gatewayUrl}/fn/cli-hello\n`);
  });

  it('shows the invocation in the logs, with what the handler printed', async () => {
    const r = await eventually(['function', 'logs', 'cli-hello'], (x) => x.stdout.includes('greeting Alice'));
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/SUCCESS/);
    expect(r.stdout).toContain('  greeting Alice\n');
    const errors = await hks(['function', 'logs', 'cli-hello', '--level', 'error']);
    expect(errors.stdout).toBe('');
  }, 60_000);

  it('counts the invocations in the stats', async () => {
    const r = await eventually(['function', 'stats', 'cli-hello', '-o', 'json'], (x) => x.code === 0 && JSON.parse(x.stdout).invocations >= 3);
    expect(JSON.parse(r.stdout)).toMatchObject({ invocations: 3, failures: 0, errorRate: 0 });
    const table = await hks(['function', 'stats', 'cli-hello']);
    expect(table.stdout).toContain('Invocations:  3\n');
  }, 60_000);

  it('follows new invocations over the event stream until Ctrl-C', async () => {
    const child = spawn(process.execPath, [BIN, 'function', 'logs', 'cli-hello', '--follow', '--since', '1s'], {
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HKS_GATEWAY_URL: p.gatewayUrl },
    });
    let out = '';
    child.stdout.on('data', (c) => (out += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      // Invoke until the stream shows it: the first call may happen before the stream is connected.
      const deadline = Date.now() + 30_000;
      while (!out.includes('greeting Dave') && Date.now() < deadline) {
        await hks(['function', 'invoke', 'cli-hello', '--data', '{"name": "Dave"}']);
        await new Promise((res) => setTimeout(res, 500));
      }
      expect(out).toContain('  greeting Dave\n');
    } finally {
      child.kill('SIGINT');
    }
    expect(await exited).toBe(0);
  }, 60_000);

  it('updates the function when deployed again with a change, and does nothing without one', async () => {
    const dir = path.join(work, 'hello');
    const changed = await hks(['function', 'deploy', '--trigger', 'cron', '--schedule', '0 0 1 1 *', '--timezone', 'Europe/Paris'], {
      cwd: dir,
      env: { GREETING: 'Bonjour' },
    });
    expect(changed.stderr).toContain('updating cli-hello (3 files)');
    expect(changed.stdout).toContain('cli-hello is ready (version 2)');
    expect(changed.code).toBe(0);
    const described = JSON.parse((await hks(['function', 'describe', 'cli-hello', '-o', 'json'])).stdout);
    expect(described.config.triggers).toEqual([
      { type: 'http', methods: ['GET', 'POST'] },
      { type: 'schedule', cron: '0 0 1 1 *', timezone: 'Europe/Paris' },
    ]);
    const same = await hks(['function', 'deploy', '--trigger', 'cron', '--schedule', '0 0 1 1 *', '--timezone', 'Europe/Paris'], {
      cwd: dir,
      env: { GREETING: 'Bonjour' },
    });
    expect(same.stderr).toContain('no changes since version 2');
    expect(same.code).toBe(0);
  }, 180_000);

  it('exits 1 with a clear message for an unknown function', async () => {
    const r = await hks(['function', 'invoke', 'no-such-function', '--data', '{}']);
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: function "no-such-function" does not exist (hks function list shows the functions)\n' });
    expect((await hks(['function', 'describe', 'no-such-function'])).code).toBe(1);
  });

  it('exits 1 when the gateway cannot be reached, naming its URL', async () => {
    const srv = createServer();
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as { port: number }).port;
    await new Promise<void>((r) => srv.close(() => r()));
    const r = await hks(['function', 'list'], { env: { HKS_GATEWAY_URL: `http://127.0.0.1:${port}` } });
    expect(r).toEqual({ code: 1, stdout: '', stderr: `error: cannot reach the gateway at http://127.0.0.1:${port}: connection refused\n` });
  });

  it('refuses an invalid function.yaml with its file and line, before calling the platform', async () => {
    const dir = functionDir('invalid', {
      'function.yaml': 'name: cli-invalid\nruntime: python3.11\nresources:\n  memory: 12 apples\n',
      'function.py': 'def handle(d):\n    return d\n',
    });
    const r = await hks(['function', 'deploy'], { cwd: dir });
    expect(r).toEqual({ code: 2, stdout: '', stderr: "error: function.yaml:4: resources.memory: '12 apples' is not a memory size (e.g. 256Mi)\n" });
    expect((await hks(['function', 'describe', 'cli-invalid'])).code).toBe(1);
  });

  it('shows the build log and exits 1 when the code does not build', async () => {
    const dir = functionDir('broken', { 'function.py': 'def handle(data)\n    return data\n' });
    const r = await hks(['function', 'deploy', 'cli-broken', '--runtime', 'python3.11', '--handler', 'function.handle'], { cwd: dir });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('build log');
    expect(r.stderr).toMatch(/error: build of cli-broken failed: .*function\.py/);
  }, 180_000);

  it('deletes the function', async () => {
    const r = await hks(['function', 'delete', 'cli-hello']);
    expect(r).toEqual({ code: 0, stdout: 'deleted cli-hello\n', stderr: '' });
    expect((await hks(['function', 'describe', 'cli-hello'])).stderr).toContain('function "cli-hello" does not exist');
  }, 60_000);
});
