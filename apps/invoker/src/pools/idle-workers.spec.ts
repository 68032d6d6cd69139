import { IdleWorkers } from './idle-workers';

describe('IdleWorkers: which idle worker makes room under the worker cap', () => {
  let clock = 0;
  const idle = () => new IdleWorkers<string>(() => clock);

  beforeEach(() => (clock = 1_000));

  it('gives up the least recently used worker first', () => {
    const list = idle();
    list.markIdle('a');
    clock += 10;
    list.markIdle('b');
    clock += 10;
    list.markIdle('c');
    expect([list.takeLeastRecentlyUsed(), list.takeLeastRecentlyUsed(), list.takeLeastRecentlyUsed()]).toEqual(['a', 'b', 'c']);
    expect(list.takeLeastRecentlyUsed()).toBeUndefined();
  });

  it('moves a worker to the back each time it goes idle again', () => {
    const list = idle();
    list.markIdle('a');
    list.markIdle('b');
    clock += 5;
    list.markIdle('a');
    expect(list.takeLeastRecentlyUsed()).toBe('b');
    expect(list.takeLeastRecentlyUsed()).toBe('a');
  });

  it('never gives up a worker that was taken out because it got work or stopped', () => {
    const list = idle();
    list.markIdle('a');
    list.markIdle('b');
    list.remove('a');
    expect(list.size).toBe(1);
    expect(list.takeLeastRecentlyUsed()).toBe('b');
  });

  it('gives up only workers idle for at least the asked time', () => {
    const list = idle();
    list.markIdle('a');
    clock += 100;
    list.markIdle('b');
    expect(list.takeLeastRecentlyUsed(150)).toBeUndefined();
    clock += 60;
    expect(list.takeLeastRecentlyUsed(150)).toBe('a');
    expect(list.takeLeastRecentlyUsed(150)).toBeUndefined();
    expect(list.size).toBe(1);
  });

  it('drops a worker its pool refuses to give up and tries the next one', () => {
    const list = idle();
    list.markIdle('needed');
    list.markIdle('spare');
    expect(list.takeLeastRecentlyUsed(0, (w) => w !== 'needed')).toBe('spare');
    expect(list.size).toBe(0);
  });
});
