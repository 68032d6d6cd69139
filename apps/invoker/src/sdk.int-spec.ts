import { mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync } from 'fs';
import { tmpdir } from 'os';
import * as path from 'path';
import { interpreters, prepareWorkspace, resolveRuntime, RUNTIMES, templateOf } from '@platform/runtimes';
import { InvokerHarness, startInvoker } from './testing/invoker-harness';

const JSON_HEADERS = { 'content-type': 'application/json' };
const SECRET = 'sk-live-7c1e9a';

/** The function built the way the builder builds it (the node SDK goes into node_modules), as files for a bundle. */
async function built(family: string, entrypoint: string, files: Record<string, string>, runtime = family, template?: string): Promise<Record<string, Buffer>> {
  const dir = mkdtempSync(path.join(tmpdir(), 'hks-sdk-'));
  try {
    const resolved = resolveRuntime(runtime).resolved;
    await prepareWorkspace(
      dir,
      { template: templateOf(family, template).name, runtime, runtimeVersion: resolved.version ?? undefined, family, entrypoint, files },
      () => undefined,
    );
    const out: Record<string, Buffer> = {};
    const walk = (rel: string) => {
      for (const e of readdirSync(path.join(dir, rel), { withFileTypes: true })) {
        const p = rel ? `${rel}/${e.name}` : e.name;
        if (p === '.hks') continue;
        if (e.isDirectory()) walk(p);
        else out[p] = readFileSync(path.join(dir, p));
      }
    };
    walk('');
    return out;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const SDK_CONFIG = { secrets: [{ env: 'OPENAI_API_KEY', secret: 'openai' }] };

describe('invoker: the function SDK (hexabase) in a real sandboxed worker', () => {
  let inv: InvokerHarness;

  beforeAll(async () => {
    inv = await startInvoker();
    await inv.deploy({
      label: 'sdk-node',
      family: 'node',
      entrypoint: 'handler.handle',
      files: await built('node', 'handler.handle', {
        'handler.js': `const { getSecret, invocationId, logger, remainingTimeMs } = require('hexabase');
          exports.handle = async () => {
            logger.info('key has', getSecret('openai').length, 'characters');
            return { id: invocationId(), remaining: remainingTimeMs(), same: getSecret('OPENAI_API_KEY') === getSecret('openai') };
          };`,
      }),
      config: SDK_CONFIG,
      secrets: { OPENAI_API_KEY: SECRET },
    });
    await inv.deploy({
      label: 'sdk-ts',
      family: 'node',
      entrypoint: 'handler.handle',
      files: await built(
        'node',
        'handler.handle',
        {
          'handler.ts': `import { getSecret, invocationId } from 'hexabase';
          export async function handle(): Promise<{ id: string | undefined; length: number }> {
            return { id: invocationId(), length: getSecret('openai').length };
          }`,
        },
        'node',
        'typescript',
      ),
      config: SDK_CONFIG,
      secrets: { OPENAI_API_KEY: SECRET },
    });
    await inv.deploy({
      label: 'sdk-python',
      family: 'python',
      entrypoint: 'main.handle',
      files: await built('python', 'main.handle', {
        'main.py': `from hexabase import get_secret, invocation_id, logger, remaining_time_ms

def handle(event):
    logger.info('key has', len(get_secret('openai')), 'characters')
    try:
        get_secret('stripe')
    except KeyError as err:
        missing = str(err)
    return {'id': invocation_id(), 'remaining': remaining_time_ms(), 'missing': missing}
`,
      }),
      config: { ...SDK_CONFIG, resources: { timeoutMs: 4000 } },
      secrets: { OPENAI_API_KEY: SECRET },
    });
  }, 120_000);

  afterAll(async () => {
    await inv?.close();
  });

  it('gives a Node handler its secret, its invocation id, the time left, and tags its log lines with the id', async () => {
    const res = await inv.request('POST', '/invoke/sdk-node', JSON.stringify({ data: {} }), JSON_HEADERS);
    expect(res.status).toBe(200);
    const id = res.headers.get('x-invocation-id')!;
    expect(res.json).toMatchObject({ id, same: true });
    expect(res.json.remaining).toBeGreaterThan(20_000);
    expect(res.json.remaining).toBeLessThanOrEqual(30_000);
    const { result } = await inv.tap.invocation(id);
    expect(result.metadata!.logs).toContain(`[${id}] INFO key has ${SECRET.length} characters`);
  });

  it("lets a TypeScript handler import { getSecret } from 'hexabase' (typed: the build type-checks it)", async () => {
    const res = await inv.request('POST', '/invoke/sdk-ts', JSON.stringify({ data: {} }), JSON_HEADERS);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ id: res.headers.get('x-invocation-id'), length: SECRET.length });
  });

  it('gives a Python handler `from hexabase import get_secret`, and names the secrets it has for one it lacks', async () => {
    const res = await inv.request('POST', '/invoke/sdk-python', JSON.stringify({ data: {} }), JSON_HEADERS);
    expect(res.status).toBe(200);
    const id = res.headers.get('x-invocation-id')!;
    expect(res.json).toMatchObject({ id, missing: `hexabase: "stripe" is not one of this function's secrets (config.secrets gives: openai (OPENAI_API_KEY))` });
    expect(res.json.remaining).toBeGreaterThan(1000);
    expect(res.json.remaining).toBeLessThanOrEqual(4000);
    const { result } = await inv.tap.invocation(id);
    expect(result.metadata!.logs).toContain(`[${id}] INFO key has ${SECRET.length} characters`);
    expect(JSON.stringify(result)).not.toContain(SECRET);
  });
});

const python = RUNTIMES.find((r) => r.name === 'python')!;
const nine = interpreters(python).find((i) => i.version.startsWith('3.9.'));

/** The modes of the host folders above an interpreter (/, /root ... for pyenv's). */
function modesAbove(file: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (let d = path.dirname(realpathSync(file)); ; d = path.dirname(d)) {
    out[d] = (statSync(d).mode & 0o7777).toString(8);
    if (d === path.dirname(d)) return out;
  }
}

(nine ? describe : describe.skip)('invoker: a function resolved to another Python than the default runs on that interpreter', () => {
  let inv: InvokerHarness;
  let before: Record<string, string>;

  beforeAll(async () => {
    before = modesAbove(nine!.path);
    inv = await startInvoker();
    await inv.deploy({
      label: 'py39',
      family: 'python',
      runtime: 'python3.9',
      runtimeVersion: nine!.version,
      entrypoint: 'main.handle',
      files: await built(
        'python',
        'main.handle',
        { 'main.py': 'import platform\n\ndef handle(event):\n    return {"python": platform.python_version()}\n' },
        'python3.9',
      ),
    });
  }, 120_000);

  afterAll(async () => {
    await inv?.close();
  });

  it(`answers from Python ${nine?.version ?? '3.9'}, not the default ${interpreters(python)[0]?.version}`, async () => {
    const res = await inv.request('POST', '/invoke/py39', JSON.stringify({ data: {} }), JSON_HEADERS);
    expect([res.status, res.json]).toEqual([200, { python: nine!.version }]);
  });

  it('leaves the modes of the host folders above the interpreter as they were (/root stays closed)', () => {
    expect(modesAbove(nine!.path)).toEqual(before);
  });
});
