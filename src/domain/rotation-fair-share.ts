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

export interface PoolState {
  /** `--rotation-workers`. */
  readonly workers: number;
  /** One entry per mounted binding (or at least one per provider and class that has mounts). */
  readonly mounted: readonly CheckGroup[];
  /** The checks holding a slot now. */
  readonly running: readonly CheckGroup[];
}

/** Slots of the pool: the workers, or one per provider with mounts when there are more providers. */
export function rotationPoolSize(workers: number, providersWithMounts: number): number {
  return Math.max(1, workers, providersWithMounts);
}

/**
 * The checks to start now, in order, out of the due ones (`waiting`): as many as the free slots and
 * the reserve rules allow. Pure: the pool state is not changed, the caller starts what it returns.
 */
export function checksToStart(state: PoolState, waiting: readonly WaitingCheck[]): WaitingCheck[] {
  const load = PoolLoad.of(state);
  const queues = queuesByGroup(waiting);
  const started: WaitingCheck[] = [];
  for (;;) {
    const next = load.bestAdmissible(queues);
    if (next === undefined) return started;
    started.push(next.head);
    load.take(next.head);
    next.take();
    if (next.isEmpty()) queues.delete(next.key);
  }
}

function groupKey(group: CheckGroup): string {
  return `${group.provider}\u0000${group.classKey}`;
}

/** One group's waiting checks; the head is the one due first (then by id, so the order is stable). */
class GroupQueue {
  private readonly checks: WaitingCheck[] = [];
  private headIndex = -1;

  constructor(readonly key: string) {}

  add(check: WaitingCheck): void {
    this.checks.push(check);
    this.headIndex = -1;
  }

  get head(): WaitingCheck {
    if (this.headIndex < 0) {
      // Found when asked, not sorted: a dispatch usually starts one check out of many waiting.
      this.headIndex = 0;
      for (let i = 1; i < this.checks.length; i++) if (dueFirst(this.checks[i]!, this.checks[this.headIndex]!)) this.headIndex = i;
    }
    return this.checks[this.headIndex]!;
  }

  take(): void {
    this.checks.splice(this.headIndex < 0 ? 0 : this.headIndex, 1);
    this.headIndex = -1;
  }

  isEmpty(): boolean {
    return this.checks.length === 0;
  }
}

function dueFirst(a: WaitingCheck, b: WaitingCheck): boolean {
  return a.dueAt < b.dueAt || (a.dueAt === b.dueAt && a.id < b.id);
}

function queuesByGroup(waiting: readonly WaitingCheck[]): Map<string, GroupQueue> {
  const queues = new Map<string, GroupQueue>();
  const byProvider = new Map<string, Map<string, GroupQueue>>();
  for (const check of waiting) {
    let ofProvider = byProvider.get(check.provider);
    if (ofProvider === undefined) byProvider.set(check.provider, (ofProvider = new Map()));
    let queue = ofProvider.get(check.classKey);
    if (queue === undefined) {
      queue = new GroupQueue(groupKey(check));
      ofProvider.set(check.classKey, queue);
      queues.set(queue.key, queue);
    }
    queue.add(check);
  }
  return queues;
}

/** Running counts by provider and class, and the groups with mounts, as the rules need them. */
class PoolLoad {
  private free: number;

  private constructor(
    size: number,
    private readonly classesOf: Map<string, Set<string>>,
    private readonly byProvider: Map<string, number>,
    private readonly byClass: Map<string, number>,
  ) {
    let running = 0;
    for (const count of byProvider.values()) running += count;
    this.free = size - running;
  }

  static of(state: PoolState): PoolLoad {
    const classesOf = new Map<string, Set<string>>();
    for (const group of [...state.mounted, ...state.running]) {
      const classes = classesOf.get(group.provider) ?? new Set<string>();
      classes.add(group.classKey);
      classesOf.set(group.provider, classes);
    }
    const byProvider = new Map<string, number>();
    const byClass = new Map<string, number>();
    for (const group of state.running) {
      byProvider.set(group.provider, (byProvider.get(group.provider) ?? 0) + 1);
      byClass.set(groupKey(group), (byClass.get(groupKey(group)) ?? 0) + 1);
    }
    return new PoolLoad(rotationPoolSize(state.workers, classesOf.size), classesOf, byProvider, byClass);
  }

  take(group: CheckGroup): void {
    this.free--;
    this.byProvider.set(group.provider, this.providerRunning(group.provider) + 1);
    this.byClass.set(groupKey(group), this.classRunning(group) + 1);
  }

  /** The queue whose head the fair order serves first among those the reserve rules admit. */
  bestAdmissible(queues: ReadonlyMap<string, GroupQueue>): GroupQueue | undefined {
    let best: GroupQueue | undefined;
    for (const queue of queues.values()) {
      if (this.admits(queue.head) && (best === undefined || this.servedBefore(queue.head, best.head))) best = queue;
    }
    return best;
  }

  private admits(group: CheckGroup): boolean {
    if (this.free <= 0) return false;
    // A provider holding nothing takes the slot kept for it.
    if (this.providerRunning(group.provider) === 0) return true;
    const freeForProvider = this.free - this.idleOtherProviders(group.provider);
    if (freeForProvider < 1) return false;
    // A class holding nothing takes any slot its provider may use; a busy class leaves one for the idle ones.
    if (this.classRunning(group) === 0) return true;
    return freeForProvider - 1 >= (this.idleOtherClasses(group) > 0 ? 1 : 0);
  }

  private servedBefore(a: WaitingCheck, b: WaitingCheck): boolean {
    const byProvider = this.providerRunning(a.provider) - this.providerRunning(b.provider);
    if (byProvider !== 0) return byProvider < 0;
    const byClass = this.classRunning(a) - this.classRunning(b);
    if (byClass !== 0) return byClass < 0;
    return dueFirst(a, b);
  }

  private providerRunning(provider: string): number {
    return this.byProvider.get(provider) ?? 0;
  }

  private classRunning(group: CheckGroup): number {
    return this.byClass.get(groupKey(group)) ?? 0;
  }

  /** Other providers with mounts that hold no slot: each keeps one free slot within reach. */
  private idleOtherProviders(provider: string): number {
    let idle = 0;
    for (const other of this.classesOf.keys()) if (other !== provider && this.providerRunning(other) === 0) idle++;
    return idle;
  }

  /** Other classes of the same provider with mounts that hold no slot. */
  private idleOtherClasses(group: CheckGroup): number {
    let idle = 0;
    for (const classKey of this.classesOf.get(group.provider) ?? []) {
      if (classKey !== group.classKey && this.classRunning({ provider: group.provider, classKey }) === 0) idle++;
    }
    return idle;
  }
}
