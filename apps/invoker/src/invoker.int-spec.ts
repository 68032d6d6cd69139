import { compileTs } from './testing/bundles';
import { InvokerHarness, startInvoker } from './testing/invoker-harness';

describe('invoker: running functions in sandboxed workers', () => {
  let inv: InvokerHarness;

  beforeAll(async () => {
    inv = await startInvoker();
  }, 60_000);

  afterAll(async () => {
    await inv?.close();
  });

  it('runs a TypeScript default export compiled to JS, data style', async () => {
    await inv.deploy({
      label: 'ts-echo',
      family: 'node',
      entrypoint: 'handler.default',
      files: { 'handler.js': compileTs('export default function (data: unknown) { console.log("echo", data); return { echoed: data }; }') },
    });
    const res = await inv.request('POST', '/invoke/ts-echo', JSON.stringify({ data: { n: 1 } }), { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ echoed: { n: 1 } });
    expect(res.headers.get('x-cold-start')).toBe('true');
    const { pending, result } = await inv.tap.invocation(res.headers.get('x-invocation-id')!);
    expect(pending.payload).toEqual({ n: 1 });
    expect(result.status).toBe('SUCCESS');
    expect(result.metadata).toMatchObject({ coldStart: true, trigger: 'api' });
    expect(result.metadata!.logs).toContain('echo { n: 1 }');
  });
});
