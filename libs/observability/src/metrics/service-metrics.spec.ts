import { OTHER_FUNCTIONS, ServiceMetrics } from './service-metrics';

describe('ServiceMetrics', () => {
  it('labels every series with its service', async () => {
    const m = new ServiceMetrics('invoker');
    m.counter({ name: 'hks_test_things_total', help: 'things', labelNames: ['function'] }).inc({ function: 'a' }, 2);
    expect(await m.exposition()).toContain('hks_test_things_total{function="a",service="invoker"} 2');
  });

  it('folds function label values past the cap into "other"', async () => {
    const m = new ServiceMetrics('invoker', 2);
    const c = m.counter({ name: 'hks_test_calls_total', help: 'calls', labelNames: ['function'] });
    for (const f of ['a', 'b', 'c', 'd', 'a']) c.inc({ function: m.functionLabel(f) });
    const text = await m.exposition();
    expect(text).toContain('hks_test_calls_total{function="a",service="invoker"} 2');
    expect(text).toContain('hks_test_calls_total{function="b",service="invoker"} 1');
    expect(text).toContain(`hks_test_calls_total{function="${OTHER_FUNCTIONS}",service="invoker"} 2`);
    expect(text).not.toContain('function="c"');
  });

  it('shows the process metrics on the first service of the process only', async () => {
    // The first service made in this file's module state was the invoker (the first test).
    const invoker = new ServiceMetrics('invoker');
    const gateway = new ServiceMetrics('gateway');
    expect([invoker.ownsProcessMetrics, gateway.ownsProcessMetrics]).toEqual([true, false]);
    expect(await invoker.exposition()).toContain('process_resident_memory_bytes');
    expect(await gateway.exposition()).not.toContain('process_resident_memory_bytes');
  });

  it('gives the same metric back when asked twice for one name (two modules of one service)', () => {
    const m = new ServiceMetrics('builder');
    const a = m.histogram({ name: 'hks_test_seconds', help: 'h' });
    expect(m.histogram({ name: 'hks_test_seconds', help: 'h' })).toBe(a);
  });
});
