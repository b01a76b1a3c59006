import { IndexedHeap } from './indexed-heap.js';

/**
 * Which rotation checks may take a slot of the rotation pool now, so that one provider (or one class)
 * that is slow, hung or failing keeps to its fair share and the others keep their schedule.
 *
 * The rules, per level (providers of the node, then classes of one provider):
 * - Reserve: a group that has mounts but holds no slot always finds one. Every other provider with
 *   mounts keeps one free slot within reach (so the pool has at least one slot per provider:
 *   `rotationPoolSize`); within a provider, its classes keep together one slot for a class that holds
 *   none. A group that already holds slots may not take a slot so reserved.
 * - Fair order: a free slot goes to the provider with the fewest running checks, within it to the
 *   class with the fewest, and within that to the binding due first.
 * A provider alone on the node therefore uses every slot; a hung provider next to a healthy one holds
 * at most all but one, and each slot it gives back (its call's deadline) goes to the others first.
 */

/** A rotation check the pool knows of: its provider, its class (`namespace/name`) and a stable id. */
export interface CheckGroup {
  readonly provider: string;
  readonly classKey: string;
}

export interface WaitingCheck extends CheckGroup {
  readonly id: string;
  readonly dueAt: number;
}

/** Slots of the pool: the workers, or one per provider with mounts when there are more providers. */
export function rotationPoolSize(workers: number, providersWithMounts: number): number {
  return Math.max(1, workers, providersWithMounts);
}

/** Where a binding stands in the queue. */
type Place = 'upcoming' | 'waiting' | 'running' | 'aside';

/** The bindings of one provider and class: their running count and the due ones waiting, due first. */
class ClassGroup {
  members = 0;
  running = 0;
  readonly waiting = new IndexedHeap<QueueEntry>(dueFirst);

  constructor(
    readonly provider: ProviderGroup,
    readonly classKey: string,
  ) {}
}

/** The classes of one provider, those with due checks ordered by the fair order (fewest running, then due first). */
class ProviderGroup {
  readonly classes = new Map<string, ClassGroup>();
  running = 0;
  /** Classes that hold no slot. */
  idleClasses = 0;
  readonly ready = new IndexedHeap<ClassGroup>(classServedFirst);

  constructor(readonly name: string) {}
}

class QueueEntry implements WaitingCheck {
  place: Place = 'upcoming';
  /** When the entry's sharing wave fell due, while it is a member of one (see `pullIn`). */
  waveDueAt: number | undefined;
  /** While running: the group and due time put meanwhile, taken when the check ends. */
  afterRun: WaitingCheck | undefined;
  /** While running: the binding is gone, so the entry goes when the check ends. */
  removed = false;

  constructor(
    readonly id: string,
    public group: ClassGroup,
    public dueAt: number,
  ) {}

  get provider(): string {
    return this.group.provider.name;
  }

  get classKey(): string {
    return this.group.classKey;
  }

  /** When the entry joins the waiting checks: its due time, or its wave's when that is earlier. */
  get eligibleAt(): number {
    return this.waveDueAt === undefined ? this.dueAt : Math.min(this.waveDueAt, this.dueAt);
  }
}

function dueFirst(a: WaitingCheck, b: WaitingCheck): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.id < b.id);
}

function eligibleFirst(a: QueueEntry, b: QueueEntry): boolean {
  return a.eligibleAt < b.eligibleAt || (a.eligibleAt === b.eligibleAt && a.id < b.id);
}

/** Within a provider: the class with fewer running checks, then the one whose first waiting check is due first. */
function classServedFirst(a: ClassGroup, b: ClassGroup): boolean {
  if (a.running !== b.running) return a.running < b.running;
  return dueFirst(a.waiting.peek()!, b.waiting.peek()!);
}

/** Across providers: the provider with fewer running checks, then as within a provider. */
function servedFirst(a: ClassGroup, b: ClassGroup): boolean {
  if (a.provider.running !== b.provider.running) return a.provider.running < b.provider.running;
  return classServedFirst(a, b);
}

/**
 * The rotation pool's queue: every mounted binding (by id, the target path) with its provider, class
 * and due time, and the checks holding a slot. Kept up to date one binding at a time, so that finding
 * the next check to start (`next`) costs O(providers + log n) instead of a look at every binding:
 * bindings not yet due wait in one heap by due time; `admitDue` moves those due into their class's heap;
 * each provider orders its classes with waiting checks by the fair order; the providers (a handful) are
 * compared when asked. `next` applies the reserve rules and the fair order above; the caller starts what
 * it returns (`start`) and reports its end (`finish`).
 */
export class RotationQueue {
  private readonly entries = new Map<string, QueueEntry>();
  private readonly providers = new Map<string, ProviderGroup>();
  private readonly upcoming = new IndexedHeap<QueueEntry>(eligibleFirst);
  /** Providers with mounts that hold no slot. */
  private idleProviders = 0;
  private runningChecks = 0;

  constructor(private readonly workers: number) {}

  /** Checks holding a slot now. */
  get running(): number {
    return this.runningChecks;
  }

  /** The earliest time a binding that is not waiting yet becomes due (the loop's next timer), if any. */
  get nextDueAt(): number | undefined {
    return this.upcoming.peek()?.eligibleAt;
  }

  /**
   * Adds a mounted binding, or takes its new due time (and group). A binding held aside stays aside until
   * `release`; a running one takes them when its check ends. Either way it waits again from its due time.
   */
  put(check: WaitingCheck): void {
    const entry = this.entries.get(check.id);
    if (entry === undefined) {
      const created = new QueueEntry(check.id, this.joinGroup(check), check.dueAt);
      this.entries.set(check.id, created);
      this.upcoming.set(created);
      return;
    }
    if (entry.place === 'running') {
      // Mounted again while the check of its unpublished binding was winding down: it stays.
      entry.removed = false;
      entry.afterRun = check;
      return;
    }
    this.leavePlace(entry);
    this.moveTo(entry, check);
    if (entry.place !== 'aside') this.enterUpcoming(entry);
  }

  /** The binding is no longer mounted: forgotten now, or when its running check ends. */
  remove(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined) return;
    if (entry.place === 'running') {
      entry.removed = true;
      return;
    }
    this.leavePlace(entry);
    this.drop(entry);
  }

  /**
   * Makes a binding wait with the due checks now, whatever its own due time (a member of a sharing wave
   * that fell due at `waveDueAt`), behind the checks of its class due before it, until it starts.
   */
  pullIn(id: string, waveDueAt: number): void {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.place === 'running') return;
    entry.waveDueAt = waveDueAt;
    if (entry.place === 'upcoming') {
      this.upcoming.delete(entry);
      this.enterWaiting(entry);
    }
  }

  /** Moves the bindings due at `now` to the waiting checks, and returns them. */
  admitDue(now: number): WaitingCheck[] {
    const admitted: WaitingCheck[] = [];
    for (let top = this.upcoming.peek(); top !== undefined && top.eligibleAt <= now; top = this.upcoming.peek()) {
      this.upcoming.delete(top);
      this.enterWaiting(top);
      admitted.push(top);
    }
    return admitted;
  }

  /**
   * The waiting check the pool starts next, if the reserve rules admit one now: the first in the fair
   * order among the admitted. Within a provider the class first in its order is admitted whenever any
   * of its classes is (admission depends only on whether a class holds a slot, and a class that holds
   * none comes first), so each provider offers one candidate.
   */
  next(): WaitingCheck | undefined {
    const free = rotationPoolSize(this.workers, this.providers.size) - this.runningChecks;
    if (free <= 0) return undefined;
    let best: ClassGroup | undefined;
    for (const provider of this.providers.values()) {
      const group = provider.ready.peek();
      if (group === undefined || !this.admits(group, free)) continue;
      if (best === undefined || servedFirst(group, best)) best = group;
    }
    return best?.waiting.peek();
  }

  /** The waiting check `id` takes a slot. */
  start(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.place !== 'waiting') return;
    this.leavePlace(entry);
    entry.place = 'running';
    const { group } = entry;
    const { provider } = group;
    if (group.running++ === 0) provider.idleClasses--;
    if (provider.running++ === 0) this.idleProviders--;
    this.runningChecks++;
    this.refreshReady(group);
  }

  /** The check of `id` ended and gave its slot back: the binding waits for its next due time. */
  finish(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.place !== 'running') return;
    const { group } = entry;
    const { provider } = group;
    if (--group.running === 0) provider.idleClasses++;
    if (--provider.running === 0) this.idleProviders++;
    this.runningChecks--;
    this.refreshReady(group);
    entry.waveDueAt = undefined;
    if (entry.removed) return this.drop(entry);
    const after = entry.afterRun;
    entry.afterRun = undefined;
    if (after !== undefined) this.moveTo(entry, after);
    this.enterUpcoming(entry);
  }

  /** The waiting check `id` cannot start now (its target is busy): out of the queue until `release`. */
  setAside(id: string): void {
    const entry = this.entries.get(id);
    if (entry === undefined || entry.place !== 'waiting') return;
    this.leavePlace(entry);
    entry.place = 'aside';
  }

  /** A binding set aside can be checked again: it waits from its due time (or its wave's). */
  release(id: string): void {
    const entry = this.entries.get(id);
    if (entry?.place === 'aside') this.enterUpcoming(entry);
  }

  /** The reserve rules: whether a check of `group` may take one of the `free` slots now. */
  private admits(group: ClassGroup, free: number): boolean {
    const { provider } = group;
    // A provider holding nothing takes the slot kept for it.
    if (provider.running === 0) return true;
    const freeForProvider = free - this.idleProviders;
    if (freeForProvider < 1) return false;
    // A class holding nothing takes any slot its provider may use; a busy class leaves one for the idle ones.
    if (group.running === 0) return true;
    return freeForProvider - 1 >= (provider.idleClasses > 0 ? 1 : 0);
  }

  private enterUpcoming(entry: QueueEntry): void {
    entry.place = 'upcoming';
    this.upcoming.set(entry);
  }

  private enterWaiting(entry: QueueEntry): void {
    entry.place = 'waiting';
    entry.group.waiting.set(entry);
    this.refreshReady(entry.group);
  }

  /** Takes the entry out of the heap it stands in (its place is set by the caller). */
  private leavePlace(entry: QueueEntry): void {
    if (entry.place === 'upcoming') this.upcoming.delete(entry);
    else if (entry.place === 'waiting') {
      entry.group.waiting.delete(entry);
      this.refreshReady(entry.group);
    }
  }

  /** Takes the check's due time, and its group when that changed (the class's provider changed). */
  private moveTo(entry: QueueEntry, check: WaitingCheck): void {
    entry.dueAt = check.dueAt;
    if (entry.group.provider.name === check.provider && entry.group.classKey === check.classKey) return;
    this.leaveGroup(entry.group);
    entry.group = this.joinGroup(check);
  }

  /** Keeps the class's place in its provider's order: there while it has waiting checks. */
  private refreshReady(group: ClassGroup): void {
    if (group.waiting.size === 0) group.provider.ready.delete(group);
    else group.provider.ready.set(group);
  }

  private drop(entry: QueueEntry): void {
    this.entries.delete(entry.id);
    this.leaveGroup(entry.group);
  }

  private joinGroup(check: CheckGroup): ClassGroup {
    let provider = this.providers.get(check.provider);
    if (provider === undefined) {
      provider = new ProviderGroup(check.provider);
      this.providers.set(check.provider, provider);
      this.idleProviders++;
    }
    let group = provider.classes.get(check.classKey);
    if (group === undefined) {
      group = new ClassGroup(provider, check.classKey);
      provider.classes.set(check.classKey, group);
      provider.idleClasses++;
    }
    group.members++;
    return group;
  }

  /** A group without members goes (it holds no slot then: a running check is a member until it ends). */
  private leaveGroup(group: ClassGroup): void {
    if (--group.members > 0) return;
    const { provider } = group;
    provider.classes.delete(group.classKey);
    provider.idleClasses--;
    if (provider.classes.size > 0) return;
    this.providers.delete(provider.name);
    this.idleProviders--;
  }
}
