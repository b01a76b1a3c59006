import { DomainError } from '../domain/errors.js';

/** Who holds a target: one of kubelet's calls, or a rotation check of the loop. */
export type TargetHolder = 'kubelet' | 'rotation';

interface Hold {
  readonly holder: TargetHolder;
  readonly released: Promise<void>;
  /** Gives up a rotation check (absent for kubelet's calls, which are never given up). */
  readonly cancel?: () => void;
}

/**
 * One operation at a time per target path (a lock per volume, not one global lock). A second kubelet
 * call is refused at once (kubelet retries ABORTED); the rotation loop skips a held target and tries
 * later; an unpublish cancels a rotation check holding its target and goes first as soon as the check
 * has stopped.
 */
export class TargetLocks {
  private readonly holds = new Map<string, Hold>();
  private readonly releaseListeners = new Set<(targetPath: string) => void>();

  /** Runs `operation` holding the target, or throws OperationPending when it is held. */
  async run<T>(targetPath: string, operation: () => Promise<T>): Promise<T> {
    return this.hold(targetPath, { holder: 'kubelet' }, operation);
  }

  /**
   * Runs a rotation check holding the target, or resolves undefined without running it when held.
   * An unpublish gives the check up by aborting `controller` (whose signal the check follows).
   */
  async tryRun<T>(targetPath: string, check: () => Promise<T>, controller = new AbortController()): Promise<T | undefined> {
    if (this.holds.has(targetPath)) return undefined;
    const cancel = (): void => controller.abort(new DomainError('Cancelled', `the rotation check of target "${targetPath}" was given up for an unpublish`));
    return this.hold(targetPath, { holder: 'rotation', cancel }, check);
  }

  /** True while the target is held (by anyone). */
  isHeld(targetPath: string): boolean {
    return this.holds.has(targetPath);
  }

  /** True while a rotation check holds the target. */
  heldByRotation(targetPath: string): boolean {
    return this.holds.get(targetPath)?.holder === 'rotation';
  }

  /**
   * Runs `operation` as kubelet's, first cancelling a rotation check that holds the target and
   * waiting only for it to stop (checks cannot start meanwhile: the loop skips a held target, and the
   * hold is taken as soon as the check lets go). Another kubelet call still answers OperationPending.
   */
  async runCancellingRotation<T>(targetPath: string, operation: () => Promise<T>): Promise<T> {
    for (let hold = this.holds.get(targetPath); hold?.holder === 'rotation'; hold = this.holds.get(targetPath)) {
      hold.cancel?.();
      await hold.released;
    }
    return this.run(targetPath, operation);
  }

  /** Hears each target as it is let go (the rotation loop retries a due target kubelet held). */
  onRelease(listener: (targetPath: string) => void): () => void {
    this.releaseListeners.add(listener);
    return () => this.releaseListeners.delete(listener);
  }

  private async hold<T>(targetPath: string, hold: Omit<Hold, 'released'>, operation: () => Promise<T>): Promise<T> {
    if (this.holds.has(targetPath)) {
      throw new DomainError('OperationPending', `an operation on target "${targetPath}" is already in progress`);
    }
    let release!: () => void;
    this.holds.set(targetPath, { ...hold, released: new Promise<void>((resolve) => (release = resolve)) });
    try {
      return await operation();
    } finally {
      this.holds.delete(targetPath);
      release();
      for (const listener of this.releaseListeners) listener(targetPath);
    }
  }
}
