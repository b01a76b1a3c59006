import { DomainError } from '../domain/errors.js';

/**
 * One operation at a time per target path (a lock per volume, not one global lock). A second
 * caller is refused at once: kubelet retries ABORTED, and the rotation loop simply tries later.
 */
export class TargetLocks {
  private readonly busy = new Set<string>();

  /** Runs `operation` holding the target, or throws OperationPending when it is held. */
  async run<T>(targetPath: string, operation: () => Promise<T>): Promise<T> {
    if (this.busy.has(targetPath)) {
      throw new DomainError('OperationPending', `an operation on target "${targetPath}" is already in progress`);
    }
    this.busy.add(targetPath);
    try {
      return await operation();
    } finally {
      this.busy.delete(targetPath);
    }
  }

  /** Runs `operation` holding the target, or resolves undefined without running it when held. */
  async tryRun<T>(targetPath: string, operation: () => Promise<T>): Promise<T | undefined> {
    if (this.busy.has(targetPath)) return undefined;
    return this.run(targetPath, operation);
  }
}
