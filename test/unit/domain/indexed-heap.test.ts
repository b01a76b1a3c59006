import { expect } from 'chai';
import fc from 'fast-check';
import { IndexedHeap } from '../../../src/domain/indexed-heap.js';

interface Item {
  readonly name: string;
  key: number;
}

const keyFirst = (a: Item, b: Item): boolean => a.key < b.key || (a.key === b.key && a.name < b.name);

describe('domain/indexed-heap', () => {
  it('pops its items in order', () => {
    const heap = new IndexedHeap<Item>(keyFirst);
    for (const [name, key] of [['c', 3], ['a', 1], ['d', 3], ['b', 2]] as const) heap.set({ name, key });

    const popped: string[] = [];
    for (let item = heap.pop(); item !== undefined; item = heap.pop()) popped.push(item.name);

    expect(popped).to.deep.equal(['a', 'b', 'c', 'd']);
    expect(heap.size).to.equal(0);
  });

  it('removes an item from the middle, and reorders one whose key changed', () => {
    const items = [1, 2, 3, 4, 5].map((key) => ({ name: `i${key}`, key }));
    const heap = new IndexedHeap<Item>(keyFirst);
    for (const item of items) heap.set(item);

    expect(heap.delete(items[2]!)).to.equal(true);
    expect(heap.delete(items[2]!), 'already gone').to.equal(false);
    items[4]!.key = 0;
    heap.set(items[4]!);

    expect(heap.has(items[2]!)).to.equal(false);
    expect(heap.peek()).to.equal(items[4]);
    expect(heap.size).to.equal(4);
  });

  it('always has the first item by its order on top, through any adds, removals and key changes (property)', () => {
    const step = fc.oneof(
      fc.record({ op: fc.constant('set' as const), item: fc.nat(15), key: fc.integer({ min: -20, max: 20 }) }),
      fc.record({ op: fc.constant('delete' as const), item: fc.nat(15) }),
      fc.record({ op: fc.constant('pop' as const) }),
    );
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), (steps) => {
        const items = Array.from({ length: 16 }, (_, i) => ({ name: `i${String(i).padStart(2, '0')}`, key: 0 }));
        const heap = new IndexedHeap<Item>(keyFirst);
        const held = new Set<Item>();
        const first = (): Item | undefined => [...held].sort((a, b) => (keyFirst(a, b) ? -1 : 1))[0];
        for (const s of steps) {
          if (s.op === 'set') {
            const item = items[s.item]!;
            item.key = s.key;
            heap.set(item);
            held.add(item);
          } else if (s.op === 'delete') {
            expect(heap.delete(items[s.item]!)).to.equal(held.delete(items[s.item]!));
          } else {
            const expected = first();
            expect(heap.pop()).to.equal(expected);
            if (expected) held.delete(expected);
          }
          expect(heap.peek()).to.equal(first());
          expect(heap.size).to.equal(held.size);
        }
      }),
    );
  });
});
