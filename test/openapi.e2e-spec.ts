import SwaggerParser from '@apidevtools/swagger-parser';
import { execFile } from 'child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { api, OPENAPI_PATH, RunningPlatform, startPlatform } from './support/platform';

/** Figures worth quoting, printed as they are (not as a jest console block). */
const report = (text: string) => process.stdout.write(`${text}\n`);

const ROOT = path.resolve(__dirname, '..');
const BIN = (pkg: string, file: string) => path.join(ROOT, 'node_modules', pkg, file);

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** A command with a deadline; never rejects, the exit code says how it went. */
function run(command: string, args: string[], options: { cwd?: string; env?: Record<string, string>; timeoutMs: number }): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      command,
      args,
      { cwd: options.cwd ?? ROOT, env: { ...process.env, ...options.env }, timeout: options.timeoutMs, maxBuffer: 32 * 1024 * 1024 },
      (err, stdout, stderr) => {
        const code = err ? (typeof err.code === 'number' ? err.code : null) : 0;
        resolve({ code, stdout, stderr: err && code === null ? `${stderr}\n${err.message}` : stderr });
      },
    );
  });
}

interface RedoclyProblem {
  ruleId: string;
  severity: 'error' | 'warn';
  message: string;
  location: Array<{ pointer: string }>;
}

/**
 * The served OpenAPI document is what clients are generated from, so it must be valid, lint clean, and good
 * enough that a user's program written against the generated client type-checks and runs. (That every answer of
 * the platform matches the document is checked by the proxy every e2e suite goes through: see support/platform.ts.)
 */
describe('the served OpenAPI document', () => {
  let p: RunningPlatform;
  let work: string;
  let docFile: string;
  let doc: Record<string, unknown>;

  beforeAll(async () => {
    work = mkdtempSync(path.join(tmpdir(), 'hks-openapi-'));
    p = await startPlatform();
    const served = await api<Record<string, unknown>>(p.gatewayUrl, 'GET', OPENAPI_PATH);
    expect(served.status).toBe(200);
    doc = served.body;
    docFile = path.join(work, 'openapi.json');
    writeFileSync(docFile, served.text);
  }, 180_000);

  afterAll(async () => {
    try {
      await p?.stop();
    } finally {
      if (work) rmSync(work, { recursive: true, force: true });
    }
  }, 60_000);

  it('is a valid OpenAPI document (swagger-parser)', async () => {
    // validate() dereferences in place: give it a copy.
    await expect(SwaggerParser.validate(structuredClone(doc) as never)).resolves.toBeDefined();
  }, 30_000);

  it('passes redocly lint (redocly.yaml) without errors', async () => {
    const lint = await run(
      process.execPath,
      [BIN('@redocly/cli', 'bin/cli.js'), 'lint', docFile, '--format=json', `--config=${path.join(ROOT, 'redocly.yaml')}`],
      {
        env: { REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' },
        timeoutMs: 60_000,
      },
    );
    const out = JSON.parse(lint.stdout || '{}') as { totals?: { errors: number; warnings: number }; problems?: RedoclyProblem[] };
    if (!out.problems) throw new Error(`redocly lint gave no report (exit ${lint.code}): ${lint.stderr.slice(-2000)}`);
    const line = (x: RedoclyProblem) => `${x.ruleId}: ${x.message} (${x.location[0]?.pointer})`;
    const warnings = out.problems.filter((x) => x.severity !== 'error').map(line);
    report(
      `redocly lint: ${out.totals?.errors} errors, ${out.totals?.warnings} warnings${warnings.length ? `\n  warning ${warnings.join('\n  warning ')}` : ''}`,
    );
    expect(out.problems.filter((x) => x.severity === 'error').map(line)).toEqual([]);
  }, 90_000);

  describe('a program written against the client generated from it (test/client-program/flow.ts)', () => {
    const program = path.join(ROOT, 'test', 'client-program', 'flow.ts');

    beforeAll(async () => {
      // Run in the work directory: in the repository's, openapi-typescript would hold the document to redocly.yaml,
      // which is the lint test's business.
      const generated = await run(process.execPath, [BIN('openapi-typescript', 'bin/cli.js'), 'openapi.json', '-o', 'hks-api.d.ts'], {
        cwd: work,
        timeoutMs: 60_000,
      });
      if (generated.code !== 0) throw new Error(`openapi-typescript failed (exit ${generated.code}): ${generated.stderr.slice(-2000)}`);
      copyFileSync(program, path.join(work, 'flow.ts'));
      // The program imports openapi-fetch and node's types as a user's project would: from its node_modules.
      symlinkSync(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir');
      writeFileSync(
        path.join(work, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            target: 'ES2022',
            module: 'node16',
            moduleResolution: 'node16',
            esModuleInterop: true,
            types: ['node'],
            outDir: 'out',
            skipLibCheck: true,
          },
          files: ['flow.ts'],
        }),
      );
    }, 90_000);

    it('type-checks with tsc --strict', async () => {
      // One tsc run checks and emits: the next test runs what it emitted even when this one finds type errors.
      const tsc = await run(process.execPath, [BIN('typescript', 'bin/tsc'), '-p', 'tsconfig.json', '--pretty', 'false'], { cwd: work, timeoutMs: 120_000 });
      const errors = tsc.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
      if (tsc.code !== 0 && errors.length === 0) throw new Error(`tsc failed (exit ${tsc.code}): ${tsc.stdout}${tsc.stderr}`);
      expect(errors).toEqual([]);
    }, 150_000);

    it('creates, builds, deploys and invokes a function and reads its events, with the types it was given', async () => {
      const compiled = path.join(work, 'out', 'flow.js');
      if (!existsSync(compiled)) throw new Error(`${compiled} was not emitted: see the type-check above`);
      const flow = await run(process.execPath, [compiled], { cwd: work, env: { HKS_GATEWAY_URL: p.gatewayUrl, HKS_API_KEY: p.adminKey }, timeoutMs: 150_000 });
      report(`client program: exit ${flow.code}\n${flow.stdout}${flow.stderr}`);
      expect(flow.stderr).toBe('');
      expect(flow.code).toBe(0);
      const summary = JSON.parse(flow.stdout.trim().split('\n').pop() ?? '{}') as Record<string, unknown>;
      expect(summary).toMatchObject({ built: 'BUILT', deployment: 'READY', event: { status: 'SUCCESS' } });
    }, 180_000);
  });
});
