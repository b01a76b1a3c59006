/**
 * A binary heap whose items can be removed, or put back in order after their key changed, where they
 * stand: each item's position is kept. The item `before` all others is at the top. `set`, `pop` and
 * `delete` take O(log n). An item is held once (by identity); when its key changes, `set` it again
 * before the heap is used for anything else.
 */
export class IndexedHeap<T> {
  private readonly items: T[] = [];
  private readonly positions = new Map<T, number>();

  constructor(private readonly before: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  has(item: T): boolean {
    return this.positions.has(item);
  }

  /** Adds `item`, or puts it back in order when it is in the heap already (its key changed). */
  set(item: T): void {
    const index = this.positions.get(item);
    if (index !== undefined) return this.restore(index);
    this.items.push(item);
    this.positions.set(item, this.items.length - 1);
    this.siftUp(this.items.length - 1);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.delete(top);
    return top;
  }

  /** Removes `item`; false when it was not in the heap. */
  delete(item: T): boolean {
    const index = this.positions.get(item);
    if (index === undefined) return false;
    this.positions.delete(item);
    const last = this.items.pop()!;
    if (index < this.items.length) {
      this.items[index] = last;
      this.positions.set(last, index);
      this.restore(index);
    }
    return true;
  }

  private restore(index: number): void {
    if (!this.siftUp(index)) this.siftDown(index);
  }

  /** Moves the item at `index` up while it goes before its parent; true when it moved. */
  private siftUp(index: number): boolean {
    const item = this.items[index]!;
    let at = index;
    while (at > 0) {
      const parentAt = (at - 1) >> 1;
      const parent = this.items[parentAt]!;
      if (!this.before(item, parent)) break;
      this.place(parent, at);
      at = parentAt;
    }
    if (at === index) return false;
    this.place(item, at);
    return true;
  }

  private siftDown(index: number): void {
    const item = this.items[index]!;
    let at = index;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= this.items.length) break;
      const right = left + 1;
      const child = right < this.items.length && this.before(this.items[right]!, this.items[left]!) ? right : left;
      if (!this.before(this.items[child]!, item)) break;
      this.place(this.items[child]!, at);
      at = child;
    }
    if (at !== index) this.place(item, at);
  }

  private place(item: T, index: number): void {
    this.items[index] = item;
    this.positions.set(item, index);
  }
}
