import { FetchPass } from './fetch-coalescing.js';

/** One sharing group being checked together. */
export interface SharingWave {
  readonly pass: FetchPass;
  /** When its earliest member fell due: every member waits in the pool as due since then. */
  readonly dueAt: number;
}

interface OpenWave extends SharingWave {
  readonly group: string;
  readonly pending: Set<string>;
}

/**
 * Fetch sharing in the rotation pool: when one binding of a class that opted in is due, every binding
 * of its sharing group (same provider, namespace, class and service account) is checked with it and
 * they share one FetchPass, so jitter does not split the group into many provider calls and no member
 * is checked later than its own due time. A wave closes its pass once each member was checked or left.
 */
export class SharingWaves {
  private readonly byGroup = new Map<string, OpenWave>();
  private readonly byTarget = new Map<string, OpenWave>();

  /** Opens a wave for `group` over its member targets, unless one is open. */
  open(group: string, members: readonly string[], dueAt: number): void {
    if (this.byGroup.has(group)) return;
    const wave: OpenWave = { group, pass: new FetchPass(), dueAt, pending: new Set(members) };
    this.byGroup.set(group, wave);
    for (const target of members) this.byTarget.set(target, wave);
  }

  isOpen(group: string): boolean {
    return this.byGroup.has(group);
  }

  /** The wave `target` still has to be checked in, if any. */
  of(target: string): SharingWave | undefined {
    return this.byTarget.get(target);
  }

  /** `target` was checked, or is no longer mounted: its wave closes when it was the last one. */
  finished(target: string): void {
    const wave = this.byTarget.get(target);
    if (wave === undefined) return;
    this.byTarget.delete(target);
    wave.pending.delete(target);
    if (wave.pending.size > 0) return;
    wave.pass.close();
    this.byGroup.delete(wave.group);
  }
}
