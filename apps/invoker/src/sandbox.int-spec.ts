import { InvokerHarness, startInvoker } from './testing/invoker-harness';

/**
 * Hostile functions against the real sandbox (bubblewrap + cgroups): each is contained, its
 * invocation gets a FAILURE event (from the real RabbitMQ) that says why, and other functions keep
 * being served meanwhile. Network isolation (egress on and off) is in egress.int-spec.ts.
 */
describe('invoker: hostile functions are contained', () => {
  let inv: InvokerHarness;
  const secrets = { AMQP_URL: process.env.AMQP_URL, DATABASE_URL: process.env.DATABASE_URL };

  beforeAll(async () => {
    // What a function must never see: the platform's own settings, in the invoker's environment.
    process.env.DATABASE_URL = 'postgres://platform:do-not-leak@127.0.0.1:5432/hks';
    process.env.AMQP_URL = process.env.AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';
    inv = await startInvoker();
    await inv.deploy({ label: 'healthy', family: 'node', entrypoint: 'handler.*', files: { 'handler.js': 'module.exports.handle = () => ({ ok: true });' } });
  }, 90_000);

  afterAll(async () => {
    await inv?.close();
    process.env.DATABASE_URL = secrets.DATABASE_URL;
    if (secrets.AMQP_URL === undefined) delete process.env.AMQP_URL;
  });

  const failureOf = async (res: { headers: Headers }) => (await inv.tap.invocation(res.headers.get('x-invocation-id')!)).result;

  it('stops an infinite loop at the time limit (504) while other functions keep answering', async () => {
    await inv.deploy({
      label: 'spinner',
      family: 'node',
      entrypoint: 'handler.handle',
      files: { 'handler.js': 'module.exports.handle = () => { for (;;) {} };' },
      config: { resources: { timeoutMs: 1500 } },
    });
    const spinning = inv.request('GET', '/invoke/spinner');
    const others = await Promise.all([inv.request('GET', '/invoke/healthy'), inv.request('GET', '/invoke/healthy')]);
    expect(others.map((r) => r.status)).toEqual([200, 200]);
    const res = await spinning;
    expect(res.status).toBe(504);
    expect(res.json.message).toContain('did not finish within its time limit of 1500 ms');
    expect(await failureOf(res)).toMatchObject({ status: 'FAILURE', metadata: { reason: 'timeout' } });
    // The killed worker was replaced: the function still answers (and times out again).
    expect((await inv.request('GET', '/invoke/spinner')).status).toBe(504);
  });

  it('kills a memory bomb at the memory limit and says so', async () => {
    await inv.deploy({
      label: 'memory-bomb',
      family: 'node',
      entrypoint: 'handler.handle',
      files: { 'handler.js': 'module.exports.handle = () => { const keep = []; for (;;) keep.push(Buffer.alloc(1 << 20, 1)); };' },
      config: { resources: { memoryMb: 96 } },
    });
    const res = await inv.request('GET', '/invoke/memory-bomb');
    expect(res.status).toBe(502);
    expect(res.json.message).toContain('exceeded its memory limit of 96 MB');
    const event = await failureOf(res);
    expect(event).toMatchObject({ status: 'FAILURE', metadata: { reason: 'memory' } });
    expect(event.error).toContain('memory limit of 96 MB');
    expect((await inv.request('GET', '/invoke/healthy')).status).toBe(200);
  });

  it('contains a fork bomb at the process limit; the time limit then stops it', async () => {
    await inv.deploy({
      label: 'fork-bomb',
      family: 'node',
      entrypoint: 'handler.handle',
      files: {
        // The shell may itself die when a fork fails at the limit: the handler starts it again, so the bomb
        // presses against the limit until the time limit stops the invocation (never answering on its own).
        'handler.js': `const { spawn } = require('child_process');
          module.exports.handle = () => new Promise(() => {
            const bomb = () => {
              let again = false;
              const restart = () => { if (!again) { again = true; setTimeout(bomb, 20); } };
              spawn('/bin/sh', ['-c', 'bomb() { bomb | bomb & }; bomb; sleep 60'], { stdio: 'ignore' }).once('error', restart).once('exit', restart);
            };
            bomb();
          });`,
      },
      config: { resources: { timeoutMs: 2000, maxProcesses: 16 } },
    });
    const bombing = inv.request('GET', '/invoke/fork-bomb');
    await new Promise((r) => setTimeout(r, 700));
    // While the bomb runs, other functions answer.
    expect((await inv.request('GET', '/invoke/healthy')).status).toBe(200);
    const res = await bombing;
    expect(res.status).toBe(504);
    const event = await failureOf(res);
    expect(event).toMatchObject({ status: 'FAILURE', metadata: { reason: 'timeout' } });
    expect(event.error).toContain('process limit of 16 (resources.maxProcesses)');
    expect((await inv.request('GET', '/invoke/healthy')).status).toBe(200);
  });

  it('cannot read /etc/shadow: the host system is not in the sandbox', async () => {
    await inv.deploy({
      label: 'shadow-reader',
      family: 'python',
      entrypoint: 'handler.handle',
      files: { 'handler.py': "def handle(request):\n    with open('/etc/shadow') as f:\n        return f.read()\n" },
    });
    const res = await inv.request('GET', '/invoke/shadow-reader');
    expect(res.status).toBe(500);
    expect(res.json.message).toContain("FileNotFoundError: [Errno 2] No such file or directory: '/etc/shadow'");
    expect(await failureOf(res)).toMatchObject({ status: 'FAILURE', metadata: { reason: 'error' } });
  });

  it("sees none of the platform's environment, in its own variables or any visible process", async () => {
    await inv.deploy({
      label: 'env-snoop',
      family: 'node',
      entrypoint: 'handler.handle',
      files: {
        'handler.js': `const fs = require('fs');
          module.exports.handle = () => {
            let seen = JSON.stringify(process.env);
            for (const pid of fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p))) {
              try { seen += fs.readFileSync('/proc/' + pid + '/environ', 'utf8'); } catch (e) { seen += ' unreadable ' + pid; }
            }
            return { seen, processes: fs.readdirSync('/proc').filter((p) => /^\\d+$/.test(p)).length };
          };`,
      },
      config: { env: { OWN_SETTING: 'mine' } },
    });
    const res = await inv.request('GET', '/invoke/env-snoop');
    expect(res.status).toBe(200);
    expect(res.json.seen).toContain('OWN_SETTING');
    for (const leak of ['AMQP_URL', 'DATABASE_URL', 'do-not-leak', 'HKS_NAMESPACE', 'guest:guest']) expect(res.json.seen).not.toContain(leak);
    // Its own pid namespace: the sandbox's init, the runtime, nothing of the host.
    expect(res.json.processes).toBeLessThanOrEqual(3);
  });

  it('cannot write outside /tmp', async () => {
    await inv.deploy({
      label: 'scribbler',
      family: 'node',
      entrypoint: 'handler.handle',
      files: {
        'handler.js': `const fs = require('fs');
          module.exports.handle = () => {
            fs.writeFileSync('/tmp/scratch', 'fine');
            for (const target of ['/code/handler.js', '/usr/bin/evil', '/etc/evil', '/evil']) {
              try { fs.writeFileSync(target, 'x'); return 'wrote ' + target; } catch (e) { if (e.code !== 'EROFS' && e.code !== 'EACCES') throw e; }
            }
            fs.writeFileSync('/code/handler.js', 'pwned');
          };`,
      },
    });
    const res = await inv.request('GET', '/invoke/scribbler');
    expect(res.status).toBe(500);
    expect(res.json.message).toMatch(/EROFS: read-only file system, open '\/code\/handler.js'/);
    expect(await failureOf(res)).toMatchObject({ status: 'FAILURE', metadata: { reason: 'error' } });
  });
});
