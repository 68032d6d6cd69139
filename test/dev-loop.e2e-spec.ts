import { ChildProcessWithoutNullStreams, execFile, spawn } from 'child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { api, RunningPlatform, startPlatform } from './support/platform';

const BIN = path.resolve(__dirname, '..', 'dist', 'apps', 'cli', 'src', 'main.js');

/** A running `hks function dev`, with what it printed so far. */
interface DevProcess {
  child: ChildProcessWithoutNullStreams;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
}

/**
 * `hks function dev` as a user runs it, against the six services started as processes: the first deploy, an edit
 * that the next call answers with, a save that does not build (the previous version keeps serving), the function's
 * logs in the terminal, and Ctrl-C.
 */
describe('hks function dev against the real platform', () => {
  let p: RunningPlatform;
  let work: string;
  let home: string;
  const reloads: Record<string, number[]> = {};

  const env = () => ({ PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: home, HKS_GATEWAY_URL: p.gatewayUrl });

  function startDev(dir: string): DevProcess {
    const child = spawn(process.execPath, [BIN, 'function', 'dev', dir], { env: env() });
    let out = '';
    let err = '';
    child.stdout.on('data', (c) => (out += c));
    child.stderr.on('data', (c) => (err += c));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    return { child, stdout: () => out, stderr: () => err, exited };
  }

  async function waitFor(what: string, ok: () => boolean, timeoutMs = 60_000, everyMs = 100): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await new Promise((res) => setTimeout(res, everyMs));
    }
  }

  async function call(label: string): Promise<{ status: number; text: string }> {
    const r = await api(p.gatewayUrl, 'POST', `/fn/${label}`, { name: 'dev' }, { authorization: `Bearer ${p.adminKey}` });
    return { status: r.status, text: r.text };
  }

  /** Calls the function until its answer contains `marker`; returns how long after `since` the first such answer came. */
  async function untilAnswer(label: string, marker: string, since: number, timeoutMs = 60_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const r = await call(label);
      last = `${r.status} ${r.text}`;
      if (r.status === 200 && r.text.includes(marker)) return Date.now() - since;
      if (Date.now() > deadline) throw new Error(`${label} never answered with ${marker}; last answer: ${last}`);
      await new Promise((res) => setTimeout(res, 10));
    }
  }

  function write(dir: string, files: Record<string, string>): void {
    for (const [rel, content] of Object.entries(files)) {
      mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
      writeFileSync(path.join(dir, rel), content);
    }
  }

  beforeAll(async () => {
    if (!existsSync(BIN)) throw new Error(`${BIN} is missing: run \`npm run build\` first`);
    work = mkdtempSync(path.join(tmpdir(), 'hks-dev-e2e-'));
    home = path.join(work, 'home');
    mkdirSync(home);
    p = await startPlatform();
    const login = await new Promise<number>((resolve) =>
      execFile(process.execPath, [BIN, 'login', '--api-key', p.adminKey], { env: env() }, (e) => resolve(e ? 1 : 0)),
    );
    expect(login).toBe(0);
  }, 180_000);

  afterAll(async () => {
    for (const [runtime, ms] of Object.entries(reloads)) {
      process.stdout.write(`hks function dev, ${runtime}: save -> first answer with the new code: ${ms.join(', ')} ms\n`);
    }
    try {
      await p?.stop();
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);

  const cases = [
    {
      runtime: 'python3.11',
      label: 'dev-py',
      file: 'function.py',
      handler: 'function.handle',
      code: (marker: string) => `def handle(data):\n    print("log from ${marker}")\n    return {"version": "${marker}"}\n`,
      broken: 'def handle(data:\n    return {"version": "broken"}\n',
      buildError: /SyntaxError/,
    },
    {
      runtime: 'nodejs20',
      label: 'dev-node',
      file: 'handler.js',
      handler: 'handler.handle',
      code: (marker: string) => `exports.handle = (data) => {\n  console.log('log from ${marker}');\n  return { version: '${marker}' };\n};\n`,
      broken: "exports.handle = (data) => {\n  return { version: 'broken' ;\n};\n",
      buildError: /SyntaxError/,
    },
  ];

  for (const c of cases) {
    it(`serves each saved edit of a ${c.runtime} function, keeps the last good version on a broken save, and stops on Ctrl-C`, async () => {
      const dir = path.join(work, c.label);
      write(dir, {
        'function.yaml': [`name: ${c.label}`, `runtime: ${c.runtime}`, `handler: ${c.handler}`, 'triggers:', '  - http: {methods: [POST]}', ''].join('\n'),
        [c.file]: c.code('one'),
      });
      const dev = startDev(dir);
      try {
        await waitFor('the first deploy', () => dev.stderr().includes('watching'), 120_000);
        expect(dev.stderr()).toContain(`serving ${c.label} v1 in `);
        await untilAnswer(c.label, '"one"', Date.now());

        // Each edit: from the save to the first call that answers with the new code.
        reloads[c.runtime] = [];
        for (const marker of ['two', 'three']) {
          const savedAt = Date.now();
          write(dir, { [c.file]: c.code(marker) });
          reloads[c.runtime].push(await untilAnswer(c.label, `"${marker}"`, savedAt));
        }
        await waitFor('the report of the third version', () => dev.stderr().includes(`serving ${c.label} v3 in `));

        // The function's own output reaches the terminal.
        await waitFor('the logs of the last version', () => dev.stdout().includes('log from three'), 30_000, 200);

        // A save that does not build: the error is printed and the last good version answers on.
        write(dir, { [c.file]: c.broken });
        await waitFor('the broken build reported', () => dev.stderr().includes('still serving version 3'));
        expect(dev.stderr()).toMatch(c.buildError);
        const during = await call(c.label);
        expect(during.status).toBe(200);
        expect(during.text).toContain('"three"');

        // Fixing it serves again.
        const fixedAt = Date.now();
        write(dir, { [c.file]: c.code('four') });
        reloads[c.runtime].push(await untilAnswer(c.label, '"four"', fixedAt));
        // The broken save took version 4; the fix is version 5.
        await waitFor('the report of the fixed version', () => dev.stderr().includes(`serving ${c.label} v5 in `));

        // Files that are not code do not deploy: a dotfile, node_modules.
        const before = dev.stderr();
        write(dir, { '.notes': 'x', 'node_modules/x/index.js': 'module.exports = 1;\n' });
        await new Promise((res) => setTimeout(res, 1000));
        expect(dev.stderr().slice(before.length)).not.toContain('serving');
      } finally {
        dev.child.kill('SIGINT');
      }
      expect(await dev.exited).toBe(0);
      expect(dev.stderr()).toContain('stopped watching');
      if (process.env.HKS_DEV_DEBUG) process.stdout.write(`--- stderr\n${dev.stderr()}\n--- stdout\n${dev.stdout()}\n`);
    }, 300_000);
  }

  it('keeps watching when the first version does not build, and serves the first save that does', async () => {
    const c = cases[0];
    const label = 'dev-py-late';
    const dir = path.join(work, label);
    write(dir, {
      'function.yaml': [`name: ${label}`, `runtime: ${c.runtime}`, `handler: ${c.handler}`, 'triggers:', '  - http: {methods: [POST]}', ''].join('\n'),
      [c.file]: c.broken,
    });
    const dev = startDev(dir);
    try {
      await waitFor('the failed first build', () => dev.stderr().includes('watching'), 120_000);
      expect(dev.stderr()).toMatch(c.buildError);
      expect(dev.stderr()).toContain('nothing serves yet');
      write(dir, { [c.file]: c.code('late') });
      await untilAnswer(label, '"late"', Date.now());
      await waitFor('the report of the version that built', () => dev.stderr().includes(`serving ${label} v2 in `));
    } finally {
      dev.child.kill('SIGINT');
    }
    expect(await dev.exited).toBe(0);
  }, 300_000);
});
