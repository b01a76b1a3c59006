/**
 * Makes a target directory a private in-memory filesystem (tmpfs) and takes it away again.
 * Contract: `mount` is idempotent (an existing healthy mount is kept) and creates the target
 * directory; `unmount` is idempotent (a missing target is fine) and removes the directory.
 * Calls for different targets may run concurrently; the core never runs two for the same target.
 */
export interface VolumeMounter {
  isMounted(target: string): Promise<boolean>;
  mount(target: string): Promise<void>;
  unmount(target: string): Promise<void>;
}
export const VolumeMounter = Symbol.for('VolumeMounter');
