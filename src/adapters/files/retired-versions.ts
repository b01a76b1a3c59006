import type { Clock, Scheduler } from '../../ports/clock.js';
import type { FileSystem } from './file-system.js';

/**
 * How long a replaced version directory stays in place after the swap. A reader that resolved
 * `..data` an instant before the swap is still walking into the old directory; removing it at once
 * (kubelet's step 7) makes that open fail with ENOENT on a stable name when the reader is
 * descheduled mid-lookup, which a loaded node does. A grace period of about a second closes that
 * window at the cost of keeping one extra version for that second.
 */
export interface RetirementPolicy {
  readonly graceMs: number;
  readonly scheduler: Scheduler;
}

/** A grace long enough for any path lookup, short enough that old secrets do not linger. */
export const RECOMMENDED_RETIREMENT_GRACE_MS = 1000;

/**
 * Removes version directories that `..data` no longer names: at once without a policy (exactly
 * wire.md step 7), else after the grace period on the scheduler. Remembers which directories are
 * still within their grace so a clean-up sweep of orphans leaves them alone.
 */
export class RetiredVersions {
  private readonly retiredAt = new Map<string, number>();

  constructor(
    private readonly fs: FileSystem,
    private readonly clock: Clock,
    private readonly policy: RetirementPolicy | undefined,
  ) {}

  async retire(path: string): Promise<void> {
    if (this.policy === undefined || this.policy.graceMs <= 0) {
      await this.fs.removeTree(path);
      return;
    }
    this.retiredAt.set(path, this.clock.now());
    this.policy.scheduler.after(this.policy.graceMs, () => void this.removeLater(path));
  }

  /** True while a retired directory is within its grace period. */
  isInGrace(path: string): boolean {
    const at = this.retiredAt.get(path);
    return at !== undefined && this.policy !== undefined && this.clock.now() - at < this.policy.graceMs;
  }

  private async removeLater(path: string): Promise<void> {
    try {
      await this.fs.removeTree(path);
    } catch {
      // The next write sweeps it as an orphan.
    } finally {
      this.retiredAt.delete(path);
    }
  }
}
