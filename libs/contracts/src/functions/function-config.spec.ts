import { effectiveConfig, eventLoopConcurrency } from './function-config.dto';

describe('effective config: concurrency per runtime', () => {
  it('lets a Node worker take many requests at once when the function does not say, bounded by its memory', () => {
    expect(effectiveConfig({}, 'event-loop').scaling.concurrency).toBe(64);
    expect(effectiveConfig({ resources: { memoryMb: 512 } }, 'event-loop').scaling.concurrency).toBe(100);
    expect(effectiveConfig({ resources: { memoryMb: 16 } }, 'event-loop').scaling.concurrency).toBe(8);
    expect(effectiveConfig({}, 'event-loop').scaling.asyncConcurrency).toBeUndefined();
  });

  it('gives Python one request at a time, and an async def handler what an event loop takes', () => {
    expect(effectiveConfig({}, 'one-or-event-loop').scaling).toMatchObject({ concurrency: 1, asyncConcurrency: 64 });
  });

  it('keeps the concurrency the function set, for every runtime and handler', () => {
    expect(effectiveConfig({ scaling: { concurrency: 1 } }, 'event-loop').scaling.concurrency).toBe(1);
    const py = effectiveConfig({ scaling: { concurrency: 4 } }, 'one-or-event-loop').scaling;
    expect(py.concurrency).toBe(4);
    expect(py.asyncConcurrency).toBeUndefined();
  });

  it('never goes below one request', () => {
    expect(eventLoopConcurrency(1)).toBe(1);
  });
});
