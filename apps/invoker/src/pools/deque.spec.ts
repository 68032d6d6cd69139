import { Deque } from './deque';

describe('Deque', () => {
  it('is first in, first out, and skips removed items', () => {
    const q = new Deque<{ n: number }>();
    const items = [1, 2, 3, 4].map((n) => ({ n }));
    items.forEach((i) => q.push(i));
    expect(q.remove(items[1])).toBe(true);
    expect(q.remove(items[1])).toBe(false);
    expect(q.length).toBe(3);
    expect(q.shift()).toBe(items[0]);
    expect(q.shift()).toBe(items[2]);
    expect(q.drain()).toEqual([items[3]]);
    expect(q.length).toBe(0);
    expect(q.shift()).toBeUndefined();
  });

  it('shows the first item without taking it, past removed ones', () => {
    const q = new Deque<{ n: number }>();
    const items = [1, 2, 3].map((n) => ({ n }));
    items.forEach((i) => q.push(i));
    q.remove(items[0]);
    expect(q.peek()).toBe(items[1]);
    expect(q.length).toBe(2);
    expect(q.shift()).toBe(items[1]);
    q.shift();
    expect(q.peek()).toBeUndefined();
  });

  it('stays correct across many pushes and shifts', () => {
    const q = new Deque<number>();
    let next = 0;
    for (let i = 0; i < 5000; i++) {
      q.push(i);
      if (i % 3 !== 0) expect(q.shift()).toBe(next++);
    }
    expect(q.length).toBe(5000 - next);
    expect(q.shift()).toBe(next);
  });
});
