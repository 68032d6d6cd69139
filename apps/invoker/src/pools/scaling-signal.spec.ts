import { ArrivalWindow, type Clock, reportedMetric, ScalingSignal, SIGNAL_WINDOW_MS } from './scaling-signal';

class FakeClock implements Clock {
  t = 1_000_000;
  now(): number {
    return this.t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

const bounds = { minInstances: 0, maxInstances: 10 };

describe('the scaling signal of a pool', () => {
  let clock: FakeClock;
  beforeEach(() => (clock = new FakeClock()));

  /** `perSecond` requests a second, evenly, for `seconds`. */
  const traffic = (signal: { arrival(): void }, perSecond: number, seconds: number) => {
    for (let i = 0; i < perSecond * seconds; i++) {
      signal.arrival();
      clock.advance(1000 / perSecond);
    }
  };

  it('counts arrivals over the last 10 s, and over the time it has filled while it is younger', () => {
    const w = new ArrivalWindow(clock);
    expect(w.perSecond()).toBe(0);
    traffic({ arrival: () => w.record() }, 30, 1);
    expect(w.perSecond()).toBeCloseTo(30, 0);
    traffic({ arrival: () => w.record() }, 30, 20);
    expect(w.perSecond()).toBeCloseTo(30, 0);
    clock.advance(5_000);
    expect(w.perSecond()).toBeCloseTo(15, 0);
    clock.advance(SIGNAL_WINDOW_MS);
    expect(w.perSecond()).toBe(0);
  });

  it('asks for ceil(rps / target) instances, within min and max', () => {
    const signal = new ScalingSignal('rps', 5, clock);
    traffic(signal, 30, 2);
    expect(signal.desired(0, bounds)).toBe(6);
    expect(signal.desired(0, { minInstances: 0, maxInstances: 3 })).toBe(3);
    clock.advance(SIGNAL_WINDOW_MS + 1);
    expect(signal.desired(0, bounds)).toBe(0);
    expect(signal.desired(0, { minInstances: 2, maxInstances: 10 })).toBe(2);
  });

  it('asks, on concurrency, for the requests in flight over the target, whatever the rate', () => {
    const signal = new ScalingSignal('concurrency', 4, clock);
    traffic(signal, 30, 2);
    expect(signal.desired(1, bounds)).toBe(1);
    expect(signal.desired(9, bounds)).toBe(3);
    expect(signal.desired(8, bounds)).toBe(2);
  });

  it('adds the latest sample of each instance (cpu, memory, custom) and drops samples older than the window', () => {
    const signal = new ScalingSignal('cpu', 50, clock);
    signal.report('a', 90);
    signal.report('b', 70);
    expect(signal.total(0)).toBe(160);
    expect(signal.desired(0, bounds)).toBe(4);
    signal.report('a', 10);
    expect(signal.desired(0, bounds)).toBe(2);
    signal.forget('b');
    expect(signal.desired(0, bounds)).toBe(1);
    clock.advance(SIGNAL_WINDOW_MS + 1);
    expect(signal.total(0)).toBe(0);
    signal.report('c', -1);
    signal.report('c', NaN);
    expect(signal.total(0)).toBe(0);
  });

  it('does not ask for another instance when the total is exactly on target', () => {
    const signal = new ScalingSignal('memory', 100, clock);
    signal.report('a', 100);
    signal.report('b', 100);
    expect(signal.desired(0, bounds)).toBe(2);
  });

  it('reads the custom metric from x-hks-metric: name=value, among others', () => {
    expect(reportedMetric('queue_backlog=12', 'queue_backlog')).toBe(12);
    expect(reportedMetric('a=1, queue_backlog = 2.5', 'queue_backlog')).toBe(2.5);
    expect(reportedMetric(['a=1', 'queue_backlog=3'], 'queue_backlog')).toBe(3);
    expect(reportedMetric('queue_backlog=lots', 'queue_backlog')).toBeUndefined();
    expect(reportedMetric('queue_backlog=', 'queue_backlog')).toBeUndefined();
    expect(reportedMetric('other=1', 'queue_backlog')).toBeUndefined();
    expect(reportedMetric(undefined, 'queue_backlog')).toBeUndefined();
  });
});
