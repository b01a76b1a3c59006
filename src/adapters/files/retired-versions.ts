import type { Clock, Scheduler } from '../../ports/clock.js';
import type { FileSystem } from './file-system.js';

/**
 * How long a replaced version directory stays in place after the swap. A reader that resolved
 * `..data` an instant before the swap is still walking into the old directory; removing it at once
 * (kubelet's step 7) makes that open fail with ENOENT on a stable name when the reader is
 * descheduled mid-lookup, which happens on a loaded node. A grace period of about a second closes
 * that window at the cost of keeping the previous version for that second.
 */
export interface RetirementPolicy {
  readonly graceMs: number;
  readonly scheduler: Scheduler;
}

/** Long enough for any path lookup, short enough that old secrets do not linger. */
export const RECOMMENDED_RETIREMENT_GRACE_MS = 1000;

/**
 * Removes version directories that `..data` no longer names: at once without a policy (exactly
 * wire.md step 7), else once the grace period has passed: by a timer on the scheduler, or by the
 * next write's sweep if that comes first (a busy writer may not give timers a turn). Gives them up
 * early when the volume runs out of space. A restarted process knows none of them: its first write
 * sweeps them as orphans.
 */
export class RetiredVersions {
  /** target -> version directory name -> when it was retired. */
  private readonly waiting = new Map<string, Map<string, number>>();

  constructor(
    private readonly fs: FileSystem,
    private readonly clock: Clock,
    private readonly policy: RetirementPolicy | undefined,
    /** Told of a target where a directory could not be removed: its next write must sweep it. */
    private readonly leftBehind: (target: string) => void = () => undefined,
  ) {}

  async retire(target: string, name: string): Promise<void> {
    if (this.policy === undefined || this.policy.graceMs <= 0) {
      await this.fs.removeTree(`${target}/${name}`);
      return;
    }
    const names = this.waiting.get(target) ?? new Map<string, number>();
    this.waiting.set(target, names.set(name, this.clock.now()));
    this.policy.scheduler.after(this.policy.graceMs, () => void this.discard(target, name));
  }

  /** A test, fixed at the current time, for "this directory of the target is still in its grace". */
  inGrace(target: string): (name: string) => boolean {
    const names = this.waiting.get(target);
    if (names === undefined || this.policy === undefined) return () => false;
    const since = this.clock.now() - this.policy.graceMs;
    return (name) => (names.get(name) ?? since) > since;
  }

  /** Removes a target's waiting directories now; true when there were any. */
  async releaseNow(target: string): Promise<boolean> {
    const names = [...(this.waiting.get(target)?.keys() ?? [])];
    await Promise.all(names.map((name) => this.discard(target, name)));
    return names.length > 0;
  }

  /** Removes a hidden directory of the target (retired or orphan) and forgets it; best effort. */
  async discard(target: string, name: string): Promise<void> {
    try {
      await this.fs.removeTree(`${target}/${name}`);
    } catch {
      this.leftBehind(target); // still there: the next write sweeps it as an orphan
    } finally {
      const names = this.waiting.get(target);
      names?.delete(name);
      if (names?.size === 0) this.waiting.delete(target);
    }
  }
}
