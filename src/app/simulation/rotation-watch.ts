import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { SecretResource } from '../../adapters/kube-objects/object-shapes.js';
import type { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import type { RotationOutcome } from '../../application/rotate-binding.js';
import type { Clock } from '../../ports/clock.js';
import type { NodeAgent } from '../node-agent.js';
import type { Narrator } from './narrator.js';
import type { StoreChanges } from './store-changes.js';
import { SYNCED_KEYS, SYNCED_SECRET } from './world.js';

/** A check's outcome and when the rotation loop reported it (epoch milliseconds). */
export interface TimedOutcome {
  readonly outcome: RotationOutcome;
  readonly at: number;
}

export interface PodName {
  readonly namespace: string;
  readonly name: string;
}

interface Waiter {
  readonly pod: PodName;
  readonly wanted: (outcome: RotationOutcome) => boolean;
  readonly resolve: (timed: TimedOutcome | undefined) => void;
}

/** The visible files of a mount (AtomicWriter's `..` entries left out), by name. */
type FileSnapshot = ReadonlyMap<string, Buffer>;

/**
 * Narrates every rotation check and every change of the synced Secret, verifying the files: after a
 * rotation they must hold the store's contents of the versions the driver reports; once files are
 * frozen (from the provider outage on), a failed check must leave them byte for byte as they were. The
 * scenario's steps wait here for the checks they narrate.
 */
export class RotationWatch {
  private readonly waiters = new Set<Waiter>();
  private readonly unsubscribe: (() => void)[];
  private frozen: Map<string, FileSnapshot> | undefined;
  /** Per target, when the rotation loop had its next check due after the last one. */
  private readonly expectedDue = new Map<string, number>();
  private latestCheckMs = 0;

  /** `dueAt`: when the rotation loop has the mount of a target due next (epoch ms), if it knows the mount. */
  constructor(
    agent: NodeAgent,
    cluster: InMemoryCluster,
    private readonly store: StoreChanges,
    private readonly narrator: Narrator,
    private readonly clock: Clock,
    private readonly dueAt: (target: string) => number | undefined,
  ) {
    this.unsubscribe = [agent.reconciler.onOutcome((outcome) => this.checked(outcome)), watchSyncedSecret(cluster, store, narrator)];
  }

  stop(): void {
    for (const unsubscribe of this.unsubscribe) unsubscribe();
    for (const waiter of this.waiters) waiter.resolve(undefined);
    this.waiters.clear();
  }

  /**
   * How much later than its due time the latest check of this run came so far: what the machine's load
   * adds to every wait, on top of what the configuration allows.
   */
  get observedLatenessMs(): number {
    return this.latestCheckMs;
  }

  /**
   * The next check of `pod` that is `wanted`, once narrated; undefined after `timeoutMs` or when `signal`
   * aborts. Ask before causing the check, so it cannot be missed.
   */
  nextCheck(pod: PodName, wanted: (outcome: RotationOutcome) => boolean, timeoutMs: number, signal: AbortSignal): Promise<TimedOutcome | undefined> {
    return new Promise((resolve) => {
      const finish = (timed: TimedOutcome | undefined): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', abandon);
        this.waiters.delete(waiter);
        resolve(timed);
      };
      const abandon = (): void => finish(undefined);
      const waiter: Waiter = { pod, wanted, resolve: finish };
      const timer = setTimeout(abandon, timeoutMs);
      signal.addEventListener('abort', abandon);
      this.waiters.add(waiter);
      if (signal.aborted) abandon();
    });
  }

  /**
   * The next `wanted` check of each of `pods`, for as long as they keep coming: gives up once no pod's
   * wanted check arrived for `stallMs()` (from the call, then from the latest arrival), or when `signal`
   * aborts. On a loaded machine a wave of checks takes longer; it is waited for while it progresses.
   * `onEach` hears each pod's check as it arrives.
   */
  checksOf(
    pods: readonly PodName[],
    wanted: (outcome: RotationOutcome) => boolean,
    stallMs: () => number,
    signal: AbortSignal,
    onEach: (pod: PodName, timed: TimedOutcome) => void = () => {},
  ): Promise<Map<PodName, TimedOutcome>> {
    const seen = new Map<PodName, TimedOutcome>();
    return new Promise((resolve) => {
      let timer = setTimeout(() => finish(), stallMs());
      const waiters: Waiter[] = [];
      const finish = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', finish);
        for (const waiter of waiters) this.waiters.delete(waiter);
        resolve(seen);
      };
      for (const pod of pods) {
        const waiter: Waiter = {
          pod,
          wanted,
          resolve: (timed) => {
            this.waiters.delete(waiter);
            if (timed === undefined) return finish(); // the watch stopped
            seen.set(pod, timed);
            onEach(pod, timed);
            clearTimeout(timer);
            if (seen.size === pods.length) finish();
            else timer = setTimeout(() => finish(), stallMs());
          },
        };
        waiters.push(waiter);
        this.waiters.add(waiter);
      }
      signal.addEventListener('abort', finish);
      if (signal.aborted || pods.length === 0) finish();
    });
  }

  /**
   * Keeps the current files of `targets`: from now on a failed check of one must leave them as they are
   * (a rotation verified against the store moves the kept files on).
   */
  async freezeFiles(targets: readonly string[]): Promise<void> {
    this.frozen = new Map(await Promise.all(targets.map(async (target) => [target, await snapshot(target)] as const)));
  }

  private checked(outcome: RotationOutcome): void {
    const timed = { outcome, at: this.clock.now() };
    const target = outcome.binding.request.target.path;
    const expected = this.expectedDue.get(target);
    if (expected !== undefined) this.latestCheckMs = Math.max(this.latestCheckMs, timed.at - expected);
    const next = this.dueAt(target);
    if (next === undefined) this.expectedDue.delete(target);
    else this.expectedDue.set(target, next);
    void this.filesAsExpected(outcome).then((verified) => {
      this.narrator.rotationOutcome(outcome, verified);
      for (const waiter of [...this.waiters]) {
        const { pod } = outcome.binding.request;
        if (waiter.pod.namespace === pod.namespace && waiter.pod.name === pod.name && waiter.wanted(outcome)) waiter.resolve(timed);
      }
    });
  }

  private async filesAsExpected(outcome: RotationOutcome): Promise<boolean> {
    const target = outcome.binding.request.target.path;
    if (outcome.kind === 'rotated') {
      const matches = await filesMatchStore(outcome, this.store);
      // A check that got its answer just before the provider went down rotated legitimately.
      if (matches && this.frozen?.has(target)) this.frozen.set(target, await snapshot(target));
      return matches;
    }
    const before = outcome.kind === 'failed' ? this.frozen?.get(target) : undefined;
    return before === undefined || sameFiles(before, await snapshot(target));
  }
}

/** Narrates each change of the synced Secret's data, with the store versions it now holds. */
function watchSyncedSecret(cluster: InMemoryCluster, store: StoreChanges, narrator: Narrator): () => void {
  const lastData = new Map<string, Record<string, string>>();
  return cluster.watch('Secret', (event) => {
    const secret = event.object as SecretResource;
    const name = `${secret.metadata.namespace}/${secret.metadata.name}`;
    const data = secret.data ?? {};
    const before = lastData.get(name);
    lastData.set(name, data);
    if (event.type !== 'MODIFIED' || before === undefined || secret.metadata.name !== SYNCED_SECRET) return;
    const keys = Object.keys(data).filter((key) => before[key] !== data[key]);
    if (keys.length === 0) return;
    narrator.secretChanged(name, keys, keys.map((key) => ({ id: SYNCED_KEYS[key]!, version: store.versionOf(SYNCED_KEYS[key]!) })));
  });
}

async function filesMatchStore(outcome: RotationOutcome, store: StoreChanges): Promise<boolean> {
  if (outcome.kind !== 'rotated') return true;
  const target = outcome.binding.request.target.path;
  for (const { id, version } of outcome.binding.objectVersions) {
    const expected = store.contentsAt(id, version);
    const mounted = await readFile(join(target, id)).catch(() => undefined);
    if (expected === undefined || mounted === undefined || !Buffer.from(expected).equals(mounted)) return false;
  }
  return true;
}

async function snapshot(target: string): Promise<FileSnapshot> {
  const names = (await readdir(target).catch(() => [])).filter((name) => !name.startsWith('..'));
  return new Map(await Promise.all(names.map(async (name) => [name, await readFile(join(target, name))] as const)));
}

function sameFiles(a: FileSnapshot, b: FileSnapshot): boolean {
  return a.size === b.size && [...a].every(([name, contents]) => b.get(name)?.equals(contents) === true);
}
