import type { FileSystem } from '../../src/adapters/files/file-system.js';

export type FileOperationName = keyof FileSystem;

interface PlannedFault {
  readonly operation: FileOperationName;
  remainingSuccesses: number;
  readonly code: string;
}

/**
 * A FileSystem that delegates to another and fails on purpose: `failAfter('writeFile', 2)` lets two
 * writeFile calls through and makes the third (and only the third) fail with the given errno code.
 */
export class FaultyFileSystem implements FileSystem {
  private faults: PlannedFault[] = [];
  /** Every call that reached this file system, in order (cleared by `forgetCalls`). */
  readonly calls: FileOperationName[] = [];

  constructor(private readonly inner: FileSystem) {}

  failAfter(operation: FileOperationName, successes: number, code = 'EIO'): void {
    this.faults.push({ operation, remainingSuccesses: successes, code });
  }

  /** Forgets faults that have not fired yet. */
  reset(): void {
    this.faults = [];
  }

  forgetCalls(): void {
    this.calls.length = 0;
  }

  lstat = this.guard('lstat', (path) => this.inner.lstat(path));
  stat = this.guard('stat', (path) => this.inner.stat(path));
  readlink = this.guard('readlink', (path) => this.inner.readlink(path));
  symlink = this.guard('symlink', (value, path) => this.inner.symlink(value, path));
  rename = this.guard('rename', (from, to) => this.inner.rename(from, to));
  mkdir = this.guard('mkdir', (path, options) => this.inner.mkdir(path, options));
  writeFile = this.guard('writeFile', (path, data, mode) => this.inner.writeFile(path, data, mode));
  chmod = this.guard('chmod', (path, mode) => this.inner.chmod(path, mode));
  setGroup = this.guard('setGroup', (path, gid) => this.inner.setGroup(path, gid));
  usage = this.guard('usage', (path) => this.inner.usage(path));
  readFile = this.guard('readFile', (path) => this.inner.readFile(path));
  readdir = this.guard('readdir', (path) => this.inner.readdir(path));
  unlink = this.guard('unlink', (path) => this.inner.unlink(path));
  removeTree = this.guard('removeTree', (path) => this.inner.removeTree(path));

  private guard<K extends FileOperationName>(operation: K, call: FileSystem[K]): FileSystem[K] {
    const invoke = call as (...args: unknown[]) => Promise<unknown>;
    return (async (...args: unknown[]) => {
      this.calls.push(operation);
      const fault = this.faults.find((planned) => planned.operation === operation);
      if (fault !== undefined) {
        if (fault.remainingSuccesses === 0) {
          this.faults = this.faults.filter((planned) => planned !== fault);
          throw Object.assign(new Error(`${fault.code}: injected ${operation} failure`), { code: fault.code, syscall: operation });
        }
        fault.remainingSuccesses--;
      }
      return invoke(...args);
    }) as FileSystem[K];
  }
}
