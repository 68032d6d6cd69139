import { Backoff, batchSettings, Batcher, StopSignal } from './batching';
import { SOURCES } from './registry';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('batching of consumer messages', () => {
  it("takes a trigger's batchSize and maxBatchWaitMs, else the delivery fields' defaults", () => {
    expect(batchSettings({})).toEqual({ size: 1, waitMs: 1000 });
    expect(batchSettings({ batchSize: 10, maxBatchWaitMs: 0 })).toEqual({ size: 10, waitMs: 0 });
  });

  it('hands over a full batch at once, the rest after the wait, in order and one after the other', async () => {
    const handled: number[][] = [];
    let running = 0;
    let overlap = false;
    const b = new Batcher<number>(
      { size: 2, waitMs: 1_500 },
      async (batch) => {
        overlap ||= running++ > 0;
        await sleep(20);
        handled.push(batch);
        running--;
      },
      () => undefined,
    );
    const started = Date.now();
    for (const n of [1, 2, 3, 4, 5]) b.add(n);
    // The two full batches go at once; the fifth item waits for its batch's time (1.5 s, a margin for a loaded machine).
    while (handled.length < 2 && Date.now() - started < 1_400) await sleep(10);
    expect(handled).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(Date.now() - started).toBeLessThan(1_500);
    while (handled.length < 3 && Date.now() - started < 5_000) await sleep(20);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_400);
    await b.idle();
    expect(handled).toEqual([[1, 2], [3, 4], [5]]);
    expect(overlap).toBe(false);
  });

  it('gives back what was not handed over yet, and reports a failed batch without stopping the next', async () => {
    const errors: unknown[] = [];
    const handled: string[][] = [];
    const b = new Batcher<string>(
      { size: 1, waitMs: 1000 },
      (batch) => (batch[0] === 'bad' ? Promise.reject(new Error('boom')) : Promise.resolve(void handled.push(batch))),
      (err) => errors.push(err),
    );
    b.add('bad');
    b.add('good');
    await b.idle();
    expect(handled).toEqual([['good']]);
    expect(String(errors[0])).toBe('Error: boom');
    const waiting = new Batcher<string>(
      { size: 5, waitMs: 1000 },
      () => Promise.resolve(),
      () => undefined,
    );
    waiting.add('a');
    waiting.add('b');
    expect(waiting.takePending()).toEqual(['a', 'b']);
    expect(waiting.takePending()).toEqual([]);
  });

  it('doubles the pause after each rejection up to 30 s, and a stop cuts a pause short', async () => {
    const backoff = new Backoff(1000);
    expect([1, 2, 3, 4, 5, 6].map(() => backoff.delay())).toEqual([1000, 2000, 4000, 8000, 16000, 30000]);
    const stop = new StopSignal();
    const t0 = Date.now();
    const slept = stop.sleep(10_000);
    setTimeout(() => stop.stop(), 20);
    expect(await slept).toBe(true);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('loads a consumer module with create for every consumer kind', async () => {
    const consumers = SOURCES.filter((d) => d.runtime === 'consumer');
    expect(consumers.map((d) => d.kind)).toEqual(['queue', 'nats', 'mqtt', 'kafka', 's3']);
    for (const d of consumers) {
      const m = await d.load!();
      expect([d.kind, typeof m.create]).toEqual([d.kind, 'function']);
      expect([d.kind, typeof m.publish]).toEqual([d.kind, d.kind === 's3' ? 'undefined' : 'function']);
    }
  });
});
