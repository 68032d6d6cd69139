/** FIFO with O(1) push, shift and removal by identity (removed items are skipped lazily). */
export class Deque<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    this.items.push(item);
    this.count++;
  }

  shift(): T | undefined {
    while (this.head < this.items.length) {
      const item = this.items[this.head];
      this.items[this.head++] = undefined;
      if (item !== undefined) {
        this.count--;
        this.compact();
        return item;
      }
    }
    return undefined;
  }

  /** The first item, left in place. */
  peek(): T | undefined {
    for (let i = this.head; i < this.items.length; i++) if (this.items[i] !== undefined) return this.items[i];
    return undefined;
  }

  remove(item: T): boolean {
    const i = this.items.indexOf(item, this.head);
    if (i === -1) return false;
    this.items[i] = undefined;
    this.count--;
    this.compact();
    return true;
  }

  drain(): T[] {
    const out = this.items.slice(this.head).filter((x): x is T => x !== undefined);
    this.items = [];
    this.head = 0;
    this.count = 0;
    return out;
  }

  private compact(): void {
    if (this.count === 0) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}
