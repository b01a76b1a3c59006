import { expect } from 'chai';
import fc from 'fast-check';
import { rotationPoolSize, RotationQueue, type CheckGroup, type WaitingCheck } from '../../../src/domain/rotation-fair-share.js';

/** `n` due checks of one provider and class, due at 0, 1, 2 ... */
function due(provider: string, classKey: string, n: number, from = 0): WaitingCheck[] {
  return Array.from({ length: n }, (_, i) => ({ provider, classKey, id: `${provider}/${classKey}/${from + i}`, dueAt: from + i }));
}

function groups(provider: string, classKey: string, n: number): CheckGroup[] {
  return Array.from({ length: n }, () => ({ provider, classKey }));
}

/**
 * The fair-share rules as a plain scan over every waiting check, one start at a time: the order the
 * rotation loop followed when it looked at every binding, and the specification RotationQueue is held to.
 */
function scanOrder(workers: number, mounted: readonly CheckGroup[], running: readonly CheckGroup[], waiting: readonly WaitingCheck[]): WaitingCheck[] {
  const classesOf = new Map<string, Set<string>>();
  for (const group of [...mounted, ...running]) classesOf.set(group.provider, (classesOf.get(group.provider) ?? new Set()).add(group.classKey));
  const size = rotationPoolSize(workers, classesOf.size);
  const holding = [...running];
  const left = [...waiting];
  const started: WaitingCheck[] = [];
  const providerRunning = (provider: string): number => holding.filter((r) => r.provider === provider).length;
  const classRunning = (provider: string, classKey: string): number => holding.filter((r) => r.provider === provider && r.classKey === classKey).length;
  for (;;) {
    const free = size - holding.length;
    const admits = (check: WaitingCheck): boolean => {
      if (free <= 0) return false;
      if (providerRunning(check.provider) === 0) return true;
      const idleOtherProviders = [...classesOf.keys()].filter((p) => p !== check.provider && providerRunning(p) === 0).length;
      const freeForProvider = free - idleOtherProviders;
      if (freeForProvider < 1) return false;
      if (classRunning(check.provider, check.classKey) === 0) return true;
      const idleOtherClasses = [...classesOf.get(check.provider)!].filter((k) => k !== check.classKey && classRunning(check.provider, k) === 0).length;
      return freeForProvider - 1 >= (idleOtherClasses > 0 ? 1 : 0);
    };
    const servedFirst = (a: WaitingCheck, b: WaitingCheck): number =>
      providerRunning(a.provider) - providerRunning(b.provider) ||
      classRunning(a.provider, a.classKey) - classRunning(b.provider, b.classKey) ||
      (a.dueAt < b.dueAt ? -1 : a.dueAt > b.dueAt ? 1 : 0) ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    const next = left.filter(admits).sort(servedFirst)[0];
    if (next === undefined) return started;
    started.push(next);
    holding.push(next);
    left.splice(left.indexOf(next), 1);
  }
}

/** A queue holding `mounted` groups (never due), `running` checks and the `waiting` ones, all due. */
function queueOf(workers: number, mounted: readonly CheckGroup[], running: readonly CheckGroup[], waiting: readonly WaitingCheck[]): RotationQueue {
  const queue = new RotationQueue(workers);
  mounted.forEach((group, i) => queue.put({ ...group, id: `mounted-${i}`, dueAt: Infinity }));
  running.forEach((group, i) => queue.put({ ...group, id: `running-${i}`, dueAt: -Infinity }));
  queue.admitDue(-Infinity);
  running.forEach((_, i) => queue.start(`running-${i}`));
  for (const check of waiting) queue.put(check);
  queue.admitDue(Math.max(0, ...waiting.map((check) => check.dueAt)));
  return queue;
}

/** Starts what the queue offers until it offers nothing. */
function drain(queue: RotationQueue): WaitingCheck[] {
  const started: WaitingCheck[] = [];
  for (let next = queue.next(); next !== undefined; next = queue.next()) {
    started.push({ id: next.id, provider: next.provider, classKey: next.classKey, dueAt: next.dueAt });
    queue.start(next.id);
  }
  return started;
}

function checksToStart(workers: number, mounted: readonly CheckGroup[], running: readonly CheckGroup[], waiting: readonly WaitingCheck[]): WaitingCheck[] {
  return drain(queueOf(workers, mounted, running, waiting));
}

/** "provider/class" of each started check, in start order. */
function started(workers: number, mounted: CheckGroup[], running: CheckGroup[], waiting: WaitingCheck[]): string[] {
  return checksToStart(workers, mounted, running, waiting).map((check) => `${check.provider}/${check.classKey}`);
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

  describe('RotationQueue: which due checks start', () => {
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
      const first = checksToStart(2, groups('p', 'ns/a', 3), [], waiting);
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
          const result = checksToStart(workers, mounted, running, waiting);
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
          expect(checksToStart(workers, groups('p', 'ns/a', Math.max(1, n)), [], due('p', 'ns/a', n))).to.have.length(Math.min(workers, n));
        }),
      );
    });
  });

  describe('RotationQueue: the same order as a scan over every binding', () => {
    const provider = (i: number): string => `p${i % 3}`;
    const classKey = (i: number): string => `ns/c${i % 3}`;

    it('starts the same checks in the same order as the scan, from any pool state (property)', () => {
      fc.assert(
        fc.property(
          fc.integer({ min: 1, max: 6 }),
          fc.array(fc.tuple(fc.nat(2), fc.nat(2)), { minLength: 1, maxLength: 9 }),
          fc.array(fc.nat(20), { maxLength: 8 }),
          fc.array(fc.tuple(fc.nat(20), fc.integer({ min: -5, max: 5 })), { maxLength: 40 }),
          (workers, mountedSeed, runningSeed, waitingSeed) => {
            const mounted = mountedSeed.map(([p, c]) => ({ provider: provider(p), classKey: classKey(c) }));
            const size = rotationPoolSize(workers, new Set(mounted.map((m) => m.provider)).size);
            const running = runningSeed.slice(0, size).map((i) => mounted[i % mounted.length]!);
            // Equal due times are common (a class change makes every binding due at once): ids break the tie.
            const waiting = waitingSeed.map(([i, at], n) => ({ ...mounted[i % mounted.length]!, id: `w${(n * 7) % 40}-${n}`, dueAt: Math.abs(at) }));
            expect(checksToStart(workers, mounted, running, waiting)).to.deep.equal(scanOrder(workers, mounted, running, waiting));
          },
        ),
      );
    });

    /** What the queue was told, kept plainly: each binding's group, due time and whether it waits, runs or is set aside. */
    interface ModelEntry {
      group: CheckGroup;
      dueAt: number;
      place: 'upcoming' | 'waiting' | 'running' | 'aside';
      waveDueAt?: number;
      /** The group a running check holds its slot in. */
      runningIn?: CheckGroup;
      afterRun?: WaitingCheck;
      removed?: boolean;
    }

    type Step =
      | { readonly op: 'put'; readonly id: number; readonly group: number; readonly dueAt: number }
      | { readonly op: 'remove'; readonly id: number }
      | { readonly op: 'admitDue'; readonly by: number }
      | { readonly op: 'pullIn'; readonly id: number }
      | { readonly op: 'startNext' }
      | { readonly op: 'finish'; readonly pick: number }
      | { readonly op: 'setAside'; readonly pick: number }
      | { readonly op: 'release'; readonly id: number };

    const stepArb: fc.Arbitrary<Step> = fc.oneof(
      fc.record({ op: fc.constant('put' as const), id: fc.nat(11), group: fc.nat(8), dueAt: fc.nat(40) }),
      fc.record({ op: fc.constant('remove' as const), id: fc.nat(11) }),
      fc.record({ op: fc.constant('admitDue' as const), by: fc.nat(10) }),
      fc.record({ op: fc.constant('pullIn' as const), id: fc.nat(11) }),
      fc.constant({ op: 'startNext' as const }),
      fc.constant({ op: 'startNext' as const }),
      fc.record({ op: fc.constant('finish' as const), pick: fc.nat(20) }),
      fc.record({ op: fc.constant('setAside' as const), pick: fc.nat(20) }),
      fc.record({ op: fc.constant('release' as const), id: fc.nat(11) }),
    );

    it('kept up one change at a time, offers what the scan over every binding would start, and the next due time (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 1, max: 5 }), fc.array(stepArb, { minLength: 10, maxLength: 80, size: 'max' }), (workers, steps) => {
          const queue = new RotationQueue(workers);
          const model = new Map<string, ModelEntry>();
          let now = 0;
          const eligibleAt = (entry: ModelEntry): number => Math.min(entry.dueAt, entry.waveDueAt ?? Infinity);
          const idsIn = (place: ModelEntry['place']): string[] => [...model.entries()].filter(([, e]) => e.place === place).map(([id]) => id).sort();
          const pickIn = (place: ModelEntry['place'], pick: number): string | undefined => {
            const ids = idsIn(place);
            return ids[pick % Math.max(1, ids.length)];
          };
          const expectedNext = (): string | undefined => {
            const mounted = [...model.values()].map((e) => e.runningIn ?? e.group);
            const running = [...model.values()].flatMap((e) => (e.runningIn ? [e.runningIn] : []));
            const waiting = idsIn('waiting').map((id) => ({ ...model.get(id)!.group, id, dueAt: model.get(id)!.dueAt }));
            return scanOrder(workers, mounted, running, waiting)[0]?.id;
          };
          for (const step of steps) {
            const id = 'id' in step ? `t${step.id}` : '';
            const entry = model.get(id);
            switch (step.op) {
              case 'put': {
                const check = { id, provider: provider(step.group), classKey: classKey(Math.floor(step.group / 3)), dueAt: step.dueAt };
                queue.put(check);
                if (entry === undefined) model.set(id, { group: check, dueAt: check.dueAt, place: 'upcoming' });
                else if (entry.place === 'running') Object.assign(entry, { afterRun: check, removed: false });
                else Object.assign(entry, { group: check, dueAt: check.dueAt, place: entry.place === 'aside' ? 'aside' : 'upcoming' });
                break;
              }
              case 'remove':
                queue.remove(id);
                if (entry?.place === 'running') entry.removed = true;
                else model.delete(id);
                break;
              case 'admitDue': {
                now += step.by;
                const admitted = queue.admitDue(now).map((check) => check.id).sort();
                const expected = idsIn('upcoming').filter((upcoming) => eligibleAt(model.get(upcoming)!) <= now);
                expect(admitted).to.deep.equal(expected);
                for (const admittedId of expected) model.get(admittedId)!.place = 'waiting';
                break;
              }
              case 'pullIn':
                queue.pullIn(id, now);
                if (entry === undefined || entry.place === 'running') break;
                entry.waveDueAt = now;
                if (entry.place === 'upcoming') entry.place = 'waiting';
                break;
              case 'startNext': {
                const next = queue.next()?.id;
                expect(next).to.equal(expectedNext());
                if (next === undefined) break;
                queue.start(next);
                const started = model.get(next)!;
                Object.assign(started, { place: 'running', runningIn: started.group });
                break;
              }
              case 'finish': {
                const finished = pickIn('running', step.pick);
                if (finished === undefined) break;
                queue.finish(finished);
                const done = model.get(finished)!;
                if (done.removed) {
                  model.delete(finished);
                  break;
                }
                const after = done.afterRun;
                model.set(finished, { group: after ?? done.group, dueAt: after?.dueAt ?? done.dueAt, place: 'upcoming' });
                break;
              }
              case 'setAside': {
                const aside = pickIn('waiting', step.pick);
                if (aside === undefined) break;
                queue.setAside(aside);
                model.get(aside)!.place = 'aside';
                break;
              }
              case 'release':
                queue.release(id);
                if (entry?.place === 'aside') entry.place = 'upcoming';
                break;
            }
            const upcoming = idsIn('upcoming').map((upcomingId) => eligibleAt(model.get(upcomingId)!));
            expect(queue.nextDueAt).to.equal(upcoming.length > 0 ? Math.min(...upcoming) : undefined);
            expect(queue.running).to.equal(idsIn('running').length);
          }
          expect(queue.next()?.id).to.equal(expectedNext());
        }),
        { numRuns: 1000 },
      );
    });
  });
});
