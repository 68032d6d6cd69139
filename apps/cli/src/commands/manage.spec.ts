import { FakeGateway, hks } from '../../test/fake-gateway';
import { FakePlatform } from '../../test/fake-platform';

describe('hks function list, describe, delete (against a fake gateway)', () => {
  const gw = new FakeGateway();
  let platform: FakePlatform;
  beforeAll(() => gw.start());
  afterAll(() => gw.stop());
  /** Creates a Python function with `config` through the gateway; resolves to its id. */
  async function created(label: string, config: Record<string, unknown>): Promise<string> {
    const res = await fetch(`${gw.url}/api/v1/functions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ label, runtime: 'python3.9', handler: 'function.handle', files: { 'function.py': 'x' }, config }),
    });
    return ((await res.json()) as { id: string }).id;
  }

  beforeEach(async () => {
    gw.reset();
    platform = new FakePlatform(gw);
    await created('hello-world', {
      triggers: [{ type: 'http' }, { type: 'schedule', cron: '0 * * * *', timezone: 'Europe/Paris' }],
      env: { LEVEL: 'info' },
      resources: { memoryMb: 256 },
    });
  });

  it('lists functions as a table and as JSON', async () => {
    const r = await hks(['function', 'list'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(r.stdout.split('\n')[0]).toBe('NAME         RUNTIME    STATUS   VERSION  TRIGGERS       UPDATED');
    expect(r.stdout.split('\n')[1]).toMatch(/^hello-world {2}python3\.9 {2}CREATED {2}1 {8}http,schedule {2}\d{4}-\d\d-\d\d /);
    const json = await hks(['function', 'list', '--output', 'json'], { gateway: gw.url });
    expect(JSON.parse(json.stdout)).toEqual([expect.objectContaining({ label: 'hello-world', status: 'CREATED' })]);
  });

  it('says how to start when there are no functions', async () => {
    platform.functions.clear();
    const r = await hks(['function', 'list'], { gateway: gw.url });
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'no functions yet; hks function deploy NAME creates one\n' });
    expect(JSON.parse((await hks(['function', 'ls', '-o', 'json'], { gateway: gw.url })).stdout)).toEqual([]);
  });

  it('describes a function with its triggers, resources and URL', async () => {
    const r = await hks(['function', 'describe', 'hello-world'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Name:        hello-world\n');
    expect(r.stdout).toContain('Handler:     function.handle\n');
    expect(r.stdout).toContain('Triggers:    http; schedule "0 * * * *" Europe/Paris\n');
    expect(r.stdout).toContain('Memory:      256Mi\n');
    expect(r.stdout).toContain('Environment: LEVEL=info\n');
    expect(r.stdout).toContain('Scaling:     concurrency=1 (100 for an async def handler) (python default)\n');
    expect(r.stdout).toContain(`URL:         ${gw.url}/fn/hello-world\n`);
    const json = await hks(['function', 'describe', 'hello-world', '-o', 'json'], { gateway: gw.url });
    expect(JSON.parse(json.stdout)).toMatchObject({ label: 'hello-world', runtime: 'python3.9' });
  });

  it('shows no /fn/ URL for a function whose triggers include no http one, but its invoke route', async () => {
    const id = await created('nightly', { triggers: [{ type: 'schedule', cron: '0 3 * * *' }] });
    const r = await hks(['function', 'describe', 'nightly'], { gateway: gw.url });
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain('/fn/');
    expect(r.stdout).not.toContain('URL:');
    expect(r.stdout).toContain(`Invoke API:  POST ${gw.url}/api/v1/functions/invoke/${id}\n`);
  });

  it('exits 1 with a clear message for an unknown function', async () => {
    const r = await hks(['function', 'describe', 'nope'], { gateway: gw.url });
    expect(r).toEqual({ code: 1, stdout: '', stderr: 'error: function "nope" does not exist (hks function list shows the functions)\n' });
  });

  it('deletes without asking when not at a terminal, undeploying a running function first', async () => {
    const [f] = platform.functions.values();
    f.status = 'READY' as typeof f.status;
    const r = await hks(['function', 'delete', 'hello-world'], { gateway: gw.url });
    expect(r).toEqual({ code: 0, stdout: 'deleted hello-world\n', stderr: '' });
    const calls = gw.requests.filter((q) => q.method === 'DELETE').map((q) => q.path);
    expect(calls).toEqual([`/api/v1/functions/deploy/${f.id}`, `/api/v1/functions/${f.id}`]);
    expect(platform.functions.size).toBe(0);
  });

  it('asks at a terminal, and keeps the function when the answer is no', async () => {
    const questions: string[] = [];
    const no = await hks(['function', 'delete', 'hello-world'], {
      gateway: gw.url,
      interactive: true,
      confirm: (q) => (questions.push(q), Promise.resolve(false)),
    });
    expect(no).toEqual({ code: 1, stdout: '', stderr: 'error: not deleted\n' });
    expect(questions).toEqual(['Delete function hello-world (created, version 1)?']);
    expect(platform.functions.size).toBe(1);
    const yes = await hks(['function', 'delete', 'hello-world', '--yes'], {
      gateway: gw.url,
      interactive: true,
      confirm: () => Promise.reject(new Error('asked for confirmation despite --yes')),
    });
    expect(yes.code).toBe(0);
    expect(platform.functions.size).toBe(0);
  });
});
