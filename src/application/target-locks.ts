import { DomainError } from '../domain/errors.js';

/** Who holds a target: one of kubelet's calls, or a rotation check of the loop. */
export type TargetHolder = 'kubelet' | 'rotation';

interface Hold {
  readonly holder: TargetHolder;
  readonly released: Promise<void>;
}

/**
 * One operation at a time per target path (a lock per volume, not one global lock). A second kubelet
 * call is refused at once (kubelet retries ABORTED); the rotation loop skips a held target and tries
 * later; an unpublish may wait for a rotation check to end and then go first.
 */
export class TargetLocks {
  private readonly holds = new Map<string, Hold>();

  /** Runs `operation` holding the target, or throws OperationPending when it is held. */
  async run<T>(targetPath: string, operation: () => Promise<T>, holder: TargetHolder = 'kubelet'): Promise<T> {
    if (this.holds.has(targetPath)) {
      throw new DomainError('OperationPending', `an operation on target "${targetPath}" is already in progress`);
    }
    let release!: () => void;
    this.holds.set(targetPath, { holder, released: new Promise<void>((resolve) => (release = resolve)) });
    try {
      return await operation();
    } finally {
      this.holds.delete(targetPath);
      release();
    }
  }

  /** Runs a rotation check holding the target, or resolves undefined without running it when held. */
  async tryRun<T>(targetPath: string, operation: () => Promise<T>): Promise<T | undefined> {
    if (this.holds.has(targetPath)) return undefined;
    return this.run(targetPath, operation, 'rotation');
  }

  /** True while a rotation check holds the target. */
  heldByRotation(targetPath: string): boolean {
    return this.holds.get(targetPath)?.holder === 'rotation';
  }

  /**
   * Runs `operation` as kubelet's, after any rotation check holding the target has ended (checks
   * cannot start while it waits: the loop only skips a held target, and the hold is taken at once).
   */
  async runAfterRotation<T>(targetPath: string, operation: () => Promise<T>): Promise<T> {
    for (let hold = this.holds.get(targetPath); hold?.holder === 'rotation'; hold = this.holds.get(targetPath)) {
      await hold.released;
    }
    return this.run(targetPath, operation);
  }
}
