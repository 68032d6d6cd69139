import { execFileSync } from 'child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { resolveRuntime } from '@platform/runtimes';
import { FakeGateway, hks } from '../../test/fake-gateway';
import { FakePlatform } from '../../test/fake-platform';

describe('hks function deploy (against a fake gateway)', () => {
  const gw = new FakeGateway();
  let platform: FakePlatform;
  let dir: string;

  beforeAll(() => gw.start());
  afterAll(() => gw.stop());
  beforeEach(() => {
    gw.reset();
    platform = new FakePlatform(gw);
    dir = mkdtempSync(path.join(tmpdir(), 'hks-deploy-'));
    writeFileSync(path.join(dir, 'function.py'), 'def handle(request):\n    return {"hello": "world"}\n');
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const deploy = (args: string[], env: Record<string, string> = {}) =>
    hks(['function', 'deploy', ...args], { gateway: gw.url, cwd: dir, env: { HKS_CONFIG: '/nonexistent', ...env } });

  it('creates, builds and deploys the current directory, showing progress and printing the URL', async () => {
    const r = await deploy(['hello-world', '--runtime', 'python3.9', '--handler', 'function.handle', '--trigger', 'http']);
    expect(r.stderr).toContain('creating hello-world (1 file)');
    expect(r.stderr).toContain('build running');
    expect(r.stderr).toContain('status DEPLOYING');
    expect(r.stdout).toBe(`hello-world is ready (version 1)\nURL:    ${gw.url}/fn/hello-world\nInvoke: hks function invoke hello-world --data '{...}'\n`);
    expect(r.code).toBe(0);
    const created = gw.requests.find((q) => q.method === 'POST' && q.path === '/api/v1/functions');
    expect(created?.body).toEqual({
      label: 'hello-world',
      runtime: 'python3.9',
      handler: 'function.handle',
      files: { 'function.py': 'def handle(request):\n    return {"hello": "world"}\n' },
      config: { triggers: [{ type: 'http' }] },
    });
    const order = gw.requests.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path.replace(/[0-9a-f-]{36}/, ':id')}`);
    expect(order).toEqual(['POST /api/v1/functions', 'POST /api/v1/functions/build/:id', 'POST /api/v1/functions/deploy/:id']);
  });

  it('updates an existing function instead of creating it, and prints JSON for scripts', async () => {
    await deploy(['hello-world', '--runtime', 'python3.9']);
    const r = await deploy(['hello-world', '--runtime', 'python3.9', '--memory', '512Mi', '-o', 'json']);
    expect(r.code).toBe(0);
    const put = gw.requests.find((q) => q.method === 'PUT');
    expect(put?.body).toMatchObject({ label: 'hello-world', handler: 'function.*', config: { resources: { memoryMb: 512 } } });
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'hello-world', version: 2, status: 'READY', url: `${gw.url}/fn/hello-world` });
  });

  it('does nothing when the same code is deployed again, unless forced; says which version runs an old one', async () => {
    await deploy(['hello-world', '--runtime', 'python3.5']);
    gw.requests.length = 0;
    const again = await deploy(['hello-world', '--runtime', 'python3.5']);
    expect(again.code).toBe(0);
    // Python 3.5 is older than any the shim runs on: the platform's answer names the one that runs it.
    const { warning } = resolveRuntime('python3.5').resolved;
    expect(warning).toMatch(/^Python 3\.5 is not installed here: "python3\.5" runs on Python 3\.\d+\.\d+, the nearest newer version$/);
    expect(again.stderr).toBe(`updating hello-world (1 file)\nwarning: ${warning}\nno changes since version 1\n`);
    expect(again.stdout).toContain(`URL:    ${gw.url}/fn/hello-world`);
    expect(gw.requests.some((q) => q.path.includes('/build/') || q.path.includes('/deploy/'))).toBe(false);
    const forced = await deploy(['hello-world', '--runtime', 'python3.5', '--force']);
    expect(forced.code).toBe(0);
    expect(gw.requests.filter((q) => q.method === 'POST').map((q) => q.path.split('/')[4])).toEqual(['build', 'deploy']);
  });

  it('reads function.yaml with ${VAR} from the environment, and attaches a cron trigger from flags', async () => {
    writeFileSync(path.join(dir, 'function.yaml'), 'name: from-file\nruntime: python3.11\nhandler: function.handle\nenvironment:\n  API_URL: ${API_URL}\n');
    const r = await deploy(['--trigger', 'cron', '--schedule', '0 * * * *'], { API_URL: 'https://api.example.com' });
    expect(r.code).toBe(0);
    const created = gw.requests.find((q) => q.method === 'POST' && q.path === '/api/v1/functions');
    expect(created?.body).toMatchObject({
      label: 'from-file',
      config: { env: { API_URL: 'https://api.example.com' }, triggers: [{ type: 'schedule', cron: '0 * * * *' }] },
    });
    expect(Object.keys((created?.body as { files: object }).files)).toEqual(['function.py', 'function.yaml']);
  });

  it('stops with exit code 2 and the file:line message when function.yaml is wrong, before calling the gateway', async () => {
    writeFileSync(path.join(dir, 'function.yaml'), 'name: x\nruntime: python3.9\nresources:\n  memory: 12 apples\n');
    const r = await deploy([]);
    expect(r).toEqual({ code: 2, stdout: '', stderr: "error: function.yaml:4: resources.memory: '12 apples' is not a memory size (e.g. 256Mi)\n" });
    expect(gw.requests).toEqual([]);
  });

  it('prints the end of the build log and exits 1 when the build fails', async () => {
    platform.options.buildFails = {
      reason: 'pip install failed: no package "nosuchpkg"',
      log: '==> installing dependencies (pip)\nERROR: No matching distribution found for nosuchpkg\n',
    };
    const r = await deploy(['broken', '--runtime', 'python3.9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('  | ERROR: No matching distribution found for nosuchpkg');
    expect(r.stderr.trimEnd().split('\n').pop()).toBe('error: build of broken failed: pip install failed: no package "nosuchpkg"');
    expect(gw.requests.some((q) => q.path.startsWith('/api/v1/functions/deploy/'))).toBe(false);
  });

  it('exits 1 with the reason when the deploy fails', async () => {
    platform.options.deployFails = 'the invoker could not start a worker: out of memory';
    const r = await deploy(['hello-world', '--runtime', 'python3.9']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('error: deploy of hello-world failed: the invoker could not start a worker: out of memory\n');
  });

  it("passes the platform's validation message through", async () => {
    gw.on('POST', '/api/v1/functions', () => ({
      status: 400,
      body: { statusCode: 400, error: 'Bad Request', message: 'config.triggers: queue trigger needs a "source"' },
    }));
    const r = await deploy(['hello-world', '--runtime', 'python3.9']);
    expect(r).toMatchObject({ code: 1, stderr: expect.stringContaining('error: config.triggers: queue trigger needs a "source"\n') });
  });

  it('deploys a directory of a local Git repository at a ref', async () => {
    const repo = path.join(dir, 'repo');
    mkdirSync(path.join(repo, 'functions', 'greeter'), { recursive: true });
    writeFileSync(path.join(repo, 'functions', 'greeter', 'handler.py'), 'def handle(r):\n    return "v1"\n');
    const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, stdio: 'pipe' });
    git('init', '-q', '-b', 'main');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '--allow-empty', '-m', 'empty');
    git('add', '.');
    git('-c', 'user.name=t', '-c', 'user.email=t@example.com', 'commit', '-q', '-m', 'v1');
    git('tag', 'v1');
    const r = await deploy(['greeter', '--runtime', 'python3', '--git-url', `file://${repo}`, '--git-path', 'functions/greeter', '--git-ref', 'v1']);
    expect(r.code).toBe(0);
    const created = gw.requests.find((q) => q.method === 'POST' && q.path === '/api/v1/functions');
    expect((created?.body as { files: object }).files).toEqual({ 'handler.py': 'def handle(r):\n    return "v1"\n' });

    const missing = await deploy(['greeter', '--runtime', 'python3', '--git-url', repo, '--git-path', 'nope']);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`error: ${repo} has no directory nope\n`);
    const badRef = await deploy(['greeter', '--runtime', 'python3', '--git-url', repo, '--git-ref', 'no-such-branch']);
    expect(badRef.code).toBe(1);
    expect(badRef.stderr).toMatch(new RegExp(`^error: cannot clone ${repo} at no-such-branch: .*no-such-branch`));
  });
});
