import { expect } from 'chai';
import fc from 'fast-check';
import { checksToStart, rotationPoolSize, type CheckGroup, type WaitingCheck } from '../../../src/domain/rotation-fair-share.js';

/** `n` due checks of one provider and class, due at 0, 1, 2 ... */
function due(provider: string, classKey: string, n: number, from = 0): WaitingCheck[] {
  return Array.from({ length: n }, (_, i) => ({ provider, classKey, id: `${provider}/${classKey}/${from + i}`, dueAt: from + i }));
}

function groups(provider: string, classKey: string, n: number): CheckGroup[] {
  return Array.from({ length: n }, () => ({ provider, classKey }));
}

/** "provider/class" of each started check, in start order. */
function started(workers: number, mounted: CheckGroup[], running: CheckGroup[], waiting: WaitingCheck[]): string[] {
  return checksToStart({ workers, mounted, running }, waiting).map((check) => `${check.provider}/${check.classKey}`);
}

describe('domain/rotation-fair-share', () => {
  describe('rotationPoolSize', () => {
    const cases: ReadonlyArray<[number, number, number]> = [
      [4, 0, 4],
      [4, 2, 4],
      [4, 4, 4],
      [4, 6, 6],
      [1, 3, 3],
      [0, 0, 1],
    ];
    for (const [workers, providers, size] of cases) {
      it(`is ${size} for ${workers} workers and ${providers} providers with mounts`, () => {
        expect(rotationPoolSize(workers, providers)).to.equal(size);
      });
    }
  });

  describe('checksToStart', () => {
    interface Case {
      readonly name: string;
      readonly workers: number;
      readonly mounted: CheckGroup[];
      readonly running: CheckGroup[];
      readonly waiting: WaitingCheck[];
      readonly expected: string[];
    }
    const hung = 'hung';
    const healthy = 'healthy';
    const cases: readonly Case[] = [
      {
        name: 'a provider alone on the node uses every slot',
        workers: 4,
        mounted: groups('p', 'ns/a', 10),
        running: [],
        waiting: due('p', 'ns/a', 10),
        expected: Array(4).fill('p/ns/a'),
      },
      {
        name: 'nothing starts while every slot is held',
        workers: 4,
        mounted: groups('p', 'ns/a', 10),
        running: groups('p', 'ns/a', 4),
        waiting: due('p', 'ns/a', 6),
        expected: [],
      },
      {
        name: 'a provider leaves one slot for another provider with mounts, even when that one has nothing due',
        workers: 4,
        mounted: [...groups(hung, 'ns/h', 8), ...groups(healthy, 'ns/g', 1)],
        running: [],
        waiting: due(hung, 'ns/h', 8),
        expected: Array(3).fill(`${hung}/ns/h`),
      },
      {
        name: 'the other provider then finds its slot free at once',
        workers: 4,
        mounted: [...groups(hung, 'ns/h', 8), ...groups(healthy, 'ns/g', 1)],
        running: groups(hung, 'ns/h', 3),
        waiting: [...due(hung, 'ns/h', 5), ...due(healthy, 'ns/g', 1)],
        expected: [`${healthy}/ns/g`],
      },
      {
        name: 'a slot given back goes to the provider with fewer running checks',
        workers: 4,
        mounted: [...groups(hung, 'ns/h', 8), ...groups(healthy, 'ns/g', 5)],
        running: [...groups(hung, 'ns/h', 2), ...groups(healthy, 'ns/g', 1)],
        waiting: [...due(hung, 'ns/h', 5), ...due(healthy, 'ns/g', 4, 100)],
        expected: [`${healthy}/ns/g`],
      },
      {
        name: 'two busy providers share the pool evenly',
        workers: 4,
        mounted: [...groups('a', 'ns/a', 10), ...groups('b', 'ns/b', 10)],
        running: [],
        waiting: [...due('a', 'ns/a', 10), ...due('b', 'ns/b', 10)],
        expected: ['a/ns/a', 'b/ns/b', 'a/ns/a', 'b/ns/b'],
      },
      {
        name: 'more providers than workers: the pool grows to one slot per provider',
        workers: 2,
        mounted: ['a', 'b', 'c'].flatMap((p) => groups(p, 'ns/x', 2)),
        running: [],
        waiting: ['a', 'b', 'c'].flatMap((p) => due(p, 'ns/x', 2)),
        expected: ['a/ns/x', 'b/ns/x', 'c/ns/x'],
      },
      {
        name: 'within a provider, a busy class leaves one slot for its other classes',
        workers: 4,
        mounted: [...groups('p', 'ns/hung', 8), ...groups('p', 'ns/ok', 1)],
        running: [],
        waiting: due('p', 'ns/hung', 8),
        expected: Array(3).fill('p/ns/hung'),
      },
      {
        name: 'and the idle class takes that slot when it is due',
        workers: 4,
        mounted: [...groups('p', 'ns/hung', 8), ...groups('p', 'ns/ok', 1)],
        running: groups('p', 'ns/hung', 3),
        waiting: [...due('p', 'ns/hung', 5), ...due('p', 'ns/ok', 1)],
        expected: ['p/ns/ok'],
      },
      {
        name: 'classes of one provider alternate when both have work',
        workers: 4,
        mounted: [...groups('p', 'ns/a', 4), ...groups('p', 'ns/b', 4)],
        running: [],
        waiting: [...due('p', 'ns/a', 4), ...due('p', 'ns/b', 4, 50)],
        expected: ['p/ns/a', 'p/ns/b', 'p/ns/a', 'p/ns/b'],
      },
      {
        name: 'among equally loaded groups the check due first goes first',
        workers: 1,
        mounted: [...groups('p', 'ns/a', 1), ...groups('p', 'ns/b', 1)],
        running: [],
        waiting: [...due('p', 'ns/a', 1, 20), ...due('p', 'ns/b', 1, 10)],
        expected: ['p/ns/b'],
      },
    ];
    for (const c of cases) {
      it(c.name, () => {
        expect(started(c.workers, c.mounted, c.running, c.waiting)).to.deep.equal(c.expected);
      });
    }

    it('starts the checks of one group due first', () => {
      const waiting = [...due('p', 'ns/a', 1, 30), ...due('p', 'ns/a', 1, 10), ...due('p', 'ns/a', 1, 20)];
      const first = checksToStart({ workers: 2, mounted: groups('p', 'ns/a', 3), running: [] }, waiting);
      expect(first.map((check) => check.dueAt)).to.deep.equal([10, 20]);
    });

    const poolArb = fc.record({
      workers: fc.integer({ min: 1, max: 8 }),
      providers: fc.integer({ min: 1, max: 5 }),
      classes: fc.integer({ min: 1, max: 3 }),
      runningSeed: fc.array(fc.tuple(fc.nat(4), fc.nat(2)), { maxLength: 8 }),
      waitingSeed: fc.array(fc.tuple(fc.nat(4), fc.nat(2), fc.nat(1000)), { maxLength: 30 }),
    });

    it('never fills more than the free slots, and an idle provider with mounts always finds a slot (property)', () => {
      fc.assert(
        fc.property(poolArb, ({ workers, providers, classes, runningSeed, waitingSeed }) => {
          const provider = (i: number): string => `p${i % providers}`;
          const classKey = (i: number): string => `ns/c${i % classes}`;
          const mounted = Array.from({ length: providers * classes }, (_, i) => ({ provider: provider(i), classKey: classKey(Math.floor(i / providers)) }));
          const size = rotationPoolSize(workers, providers);
          const running = runningSeed.slice(0, size).map(([p, c]) => ({ provider: provider(p), classKey: classKey(c) }));
          const waiting = waitingSeed.map(([p, c, at], i) => ({ provider: provider(p), classKey: classKey(c), dueAt: at, id: `w${i}` }));
          const result = checksToStart({ workers, mounted, running }, waiting);
          expect(running.length + result.length).to.be.at.most(size);
          const holding = new Set([...running, ...result].map((check) => check.provider));
          const idleWithWork = new Set(waiting.map((check) => check.provider).filter((p) => !new Set(running.map((r) => r.provider)).has(p)));
          const runningIdleProvidersServed = [...idleWithWork].every((p) => holding.has(p));
          const freeBefore = size - running.length;
          const idleProvidersBefore = new Set(mounted.map((m) => m.provider).filter((p) => !running.some((r) => r.provider === p))).size;
          if (freeBefore >= idleProvidersBefore) expect(runningIdleProvidersServed, 'every idle provider with due work got a slot').to.equal(true);
        }),
      );
    });

    it('starts every due check of a lone provider and class up to the workers (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 8 }), fc.nat(20), (workers, n) => {
          expect(checksToStart({ workers, mounted: groups('p', 'ns/a', Math.max(1, n)), running: [] }, due('p', 'ns/a', n))).to.have.length(Math.min(workers, n));
        }),
      );
    });
  });
});
