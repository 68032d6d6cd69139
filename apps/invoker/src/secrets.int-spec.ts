import { readdirSync, readFileSync, statSync } from 'fs';
import * as path from 'path';
import { InvokerHarness, startInvoker } from './testing/invoker-harness';

const SECRET = 'sk-live-4f9b2c7e1d';
const JSON_HEADERS = { 'content-type': 'application/json' };

/** Every regular file under `dir`, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return filesUnder(p);
    return e.isFile() ? [p] : [];
  });
}

describe("invoker: a function's secrets are masked in what is recorded, and kept in memory only", () => {
  let inv: InvokerHarness;

  beforeAll(async () => {
    inv = await startInvoker();
    await inv.deploy({
      label: 'leaky',
      family: 'node',
      entrypoint: 'handler.handle',
      files: {
        'handler.js': `module.exports.handle = async (event) => {
          console.log('token is ' + process.env.API_TOKEN);
          console.error('mode ' + process.env.MODE + ', again: ' + process.env.API_TOKEN);
          if (event && event.fail) throw new Error('failed with ' + process.env.API_TOKEN);
          return { ok: true, length: process.env.API_TOKEN.length };
        };`,
      },
      config: { env: { MODE: 'plain' } },
      secrets: { API_TOKEN: SECRET },
    });
  }, 90_000);

  afterAll(async () => {
    await inv?.close();
  });

  it("shows *** instead of the secret's value in the event's logs, and the function still has the value", async () => {
    const res = await inv.request('POST', '/invoke/leaky', JSON.stringify({ data: {} }), JSON_HEADERS);
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ ok: true, length: SECRET.length });
    const { result } = await inv.tap.invocation(res.headers.get('x-invocation-id')!);
    expect(result.metadata!.logs).toContain('token is ***');
    expect(result.metadata!.logs).toContain('mode plain, again: ***');
    expect(JSON.stringify(inv.tap.eventsOf(result.invocationId!))).not.toContain(SECRET);
  });

  it("masks it in a failure's error and stack too", async () => {
    const res = await inv.request('POST', '/invoke/leaky', JSON.stringify({ data: { fail: true } }), JSON_HEADERS);
    expect(res.status).toBeGreaterThanOrEqual(500);
    const { result } = await inv.tap.invocation(res.headers.get('x-invocation-id')!);
    expect(result.status).toBe('FAILURE');
    expect(JSON.stringify(result)).not.toContain(SECRET);
    expect(JSON.stringify(result)).toContain('failed with ***');
  });

  it('writes the value nowhere in the data directory (bundles, work dirs, spools)', () => {
    const leaks = filesUnder(inv.dataDir).filter((f) => statSync(f).size < 50 * 1024 * 1024 && readFileSync(f).includes(SECRET));
    expect(leaks).toEqual([]);
  });
});
