import type { TargetPath } from '../domain/target-path.js';
import type { VolumeSettings } from '../domain/volume-ownership.js';

/** What unpublishing left of a target directory. */
export type TargetRemoval =
  | { readonly kind: 'removed' | 'missing' }
  /** The directory still holds entries the driver did not write: it stays, with them. */
  | { readonly kind: 'kept'; readonly entries: number };

/**
 * Makes a target directory a private in-memory filesystem (tmpfs) and takes it away again.
 * Contract: `checkTarget` refuses (InvalidTargetPath) a target one of whose directories below the
 * kubelet root is a symbolic link or not a directory; callers check once per kubelet call, then pass
 * `target.path` itself to every other call (and to the writer), so all of them act on the directory that
 * was checked. `mount` is idempotent (an existing healthy mount is kept) and creates the target directory;
 * `fit` grows a mounted volume to at least the settings' capacity (never shrinks it) and gives its root
 * the settings' mode and group; `unmount` only unmounts (idempotent, a missing target is fine);
 * `removeTarget` removes the directory only when it is empty. `mountGroup` is the group the mounted root
 * belongs to (undefined for root's group or when nothing is mounted). Mounters that have no size
 * (plain directories) ignore capacities.
 * Calls for different targets may run concurrently; the core never runs two for the same target.
 */
export interface VolumeMounter {
  checkTarget(target: TargetPath): Promise<void>;
  isMounted(target: string): Promise<boolean>;
  mount(target: string, settings: VolumeSettings): Promise<void>;
  fit(target: string, settings: VolumeSettings): Promise<void>;
  mountGroup(target: string): Promise<number | undefined>;
  unmount(target: string): Promise<void>;
  removeTarget(target: string): Promise<TargetRemoval>;
}
export const VolumeMounter = Symbol.for('VolumeMounter');
