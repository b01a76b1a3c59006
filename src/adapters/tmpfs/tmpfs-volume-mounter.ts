import { posix } from 'node:path';
import { DomainError } from '../../domain/errors.js';
import { checkTargetDirectories, type TargetComponentKind, type TargetPath } from '../../domain/target-path.js';
import { largerCapacity, mustGrow, type VolumeCapacity } from '../../domain/volume-capacity.js';
import type { VolumeSettings } from '../../domain/volume-ownership.js';
import type { TargetRemoval, VolumeMounter } from '../../ports/volume-mounter.js';
import { nodeMountSystem, type MountSystem, type PathStats } from './mount-system.js';

export const DEFAULT_KUBELET_ROOT = '/var/lib/kubelet';

const MAX_STACKED_MOUNTS = 8;
/** stat(2) errors of a mount point whose file system is gone (a dead FUSE daemon, a broken device). */
const CORRUPT_MOUNT_ERRORS = new Set(['ENOTCONN', 'EIO', 'ESTALE']);

export interface TmpfsVolumeMounterOptions {
  /** Targets must lie under it (`--kubelet-root`); default /var/lib/kubelet. */
  readonly kubeletRoot?: string;
  readonly system?: MountSystem;
}

export type TargetState = 'missing' | 'directory' | 'mounted' | 'corrupt' | 'not-a-directory';

/** What was observed at a target: whether it is a mount point, and what stat(2) said. */
export interface TargetProbe {
  /** On another device than its parent directory. */
  readonly mountPoint: boolean;
  readonly isDirectory?: boolean;
  /** The errno code when stat failed. */
  readonly statError?: string;
}

/**
 * Decides the state of a target. A target that cannot be stat'ed because its file system is gone
 * (ENOTCONN, EIO, ESTALE) is a corrupt mount: it must be unmounted and re-created.
 */
export function targetState(probe: TargetProbe): TargetState {
  if (probe.statError !== undefined) {
    if (CORRUPT_MOUNT_ERRORS.has(probe.statError)) return 'corrupt';
    if (probe.statError === 'ENOENT') return 'missing';
    throw new DomainError('Internal', `cannot inspect the target: stat failed with ${probe.statError}`);
  }
  if (probe.isDirectory !== true) return 'not-a-directory';
  return probe.mountPoint ? 'mounted' : 'directory';
}

/** tmpfs options for a volume: its size and inode limit, and its root's mode and group. */
export function tmpfsOptions(settings: VolumeSettings): string {
  const mode = `mode=0${settings.mode.toString(8)}`;
  const group = settings.group === undefined ? '' : `,gid=${settings.group}`;
  return `${capacityOptions(settings.capacity)},${mode}${group}`;
}

function capacityOptions(capacity: VolumeCapacity): string {
  return `size=${capacity.bytes},nr_inodes=${capacity.inodes}`;
}

/**
 * Mounts a private tmpfs (nosuid, nodev, noexec) on each target so secret files never reach the
 * node's disk, sized for its payload and grown (remount) when a new payload needs more; its root gets
 * the settings' mode and group. Mount points are told by their device (another than the parent's); a
 * corrupt mount is replaced. Targets outside the kubelet root, and targets with a symbolic link or
 * something else than a directory below the root, are refused with InvalidTargetPath; a failing mount
 * or unmount becomes Internal with the system's reason. Unmounting never removes a directory that
 * holds anything.
 */
export class TmpfsVolumeMounter implements VolumeMounter {
  private readonly kubeletRoot: string;
  private readonly system: MountSystem;

  constructor(options: TmpfsVolumeMounterOptions = {}) {
    this.kubeletRoot = trimSlashes(posix.normalize(options.kubeletRoot ?? DEFAULT_KUBELET_ROOT));
    this.system = options.system ?? nodeMountSystem();
  }

  checkTarget(target: TargetPath): Promise<void> {
    this.underRoot(target.path);
    return checkTargetDirectories(target, (path) => this.kindOf(path));
  }

  async isMounted(target: string): Promise<boolean> {
    const state = await this.stateOf(this.underRoot(target));
    return state === 'mounted' || state === 'corrupt';
  }

  async mount(target: string, settings: VolumeSettings): Promise<void> {
    const path = this.underRoot(target);
    if ((await this.kindOf(path)) === 'symbolic link') {
      throw new DomainError('InvalidTargetPath', `target "${target}" is a symbolic link; refusing to mount there`);
    }
    const state = await this.stateOf(path);
    if (state === 'mounted') return;
    if (state === 'not-a-directory') throw new DomainError('InvalidTargetPath', `target "${target}" exists and is not a directory`);
    if (state === 'corrupt') await this.unmountAll(path);
    await this.system.makeDirectories(path, settings.mode);
    await this.system.mount(path, tmpfsOptions(settings)).catch((error: unknown) => {
      throw new DomainError('Internal', `mounting a tmpfs on "${path}" failed: ${messageOf(error)}`);
    });
  }

  async fit(target: string, settings: VolumeSettings): Promise<void> {
    const path = this.underRoot(target);
    const { state, stats: root } = await this.inspect(path);
    if (state !== 'mounted' || root === undefined) {
      throw new DomainError('Internal', `no tmpfs is mounted on "${path}": refusing to write secrets to the node's disk`);
    }
    const size = await this.system.statfs(path);
    if (mustGrow(size, settings.capacity)) {
      const grown = largerCapacity(size, settings.capacity);
      await this.system.remount(path, capacityOptions(grown)).catch((error: unknown) => {
        throw new DomainError('Internal', `growing the tmpfs on "${path}" to ${capacityOptions(grown)} failed: ${messageOf(error)}`);
      });
    }
    // The root's stat from above: growing the size changes neither its mode nor its group.
    if ((root.mode & 0o7777) !== settings.mode) await this.system.chmod(path, settings.mode);
    if (settings.group !== undefined && root.gid !== settings.group) await this.system.setGroup(path, settings.group);
  }

  async mountGroup(target: string): Promise<number | undefined> {
    const path = this.underRoot(target);
    if ((await this.stateOf(path)) !== 'mounted') return undefined;
    const { gid } = await this.system.stat(path);
    return gid === 0 ? undefined : gid;
  }

  async unmount(target: string): Promise<void> {
    await this.unmountAll(this.underRoot(target));
  }

  async removeTarget(target: string): Promise<TargetRemoval> {
    const path = this.underRoot(target);
    const state = await this.stateOf(path);
    if (state === 'missing') return { kind: 'missing' };
    if (state !== 'directory') throw new DomainError('Internal', `cannot remove "${path}": it is still mounted or not a directory`);
    try {
      await this.system.removeDirectory(path);
      return { kind: 'removed' };
    } catch (error) {
      if (errnoOf(error) === 'ENOENT') return { kind: 'missing' };
      if (errnoOf(error) !== 'ENOTEMPTY' && errnoOf(error) !== 'EEXIST') throw error;
      return { kind: 'kept', entries: await this.system.countEntries(path) };
    }
  }

  /** Unmounts every mount stacked on the path, lazily when a plain unmount fails (busy, corrupt). */
  private async unmountAll(path: string): Promise<void> {
    for (let round = 0; round < MAX_STACKED_MOUNTS; round++) {
      const state = await this.stateOf(path);
      if (state !== 'mounted' && state !== 'corrupt') return;
      await this.system.unmount(path, false).catch(() =>
        this.system.unmount(path, true).catch((error: unknown) => {
          throw new DomainError('Internal', `unmounting "${path}" failed: ${messageOf(error)}`);
        }),
      );
    }
    throw new DomainError('Internal', `"${path}" is still mounted after ${MAX_STACKED_MOUNTS} unmounts`);
  }

  /**
   * A directory on another device than its parent is a mount point: two stat calls, where reading the
   * mount table would cost time growing with the number of mounts on the node.
   */
  private async stateOf(path: string): Promise<TargetState> {
    return (await this.inspect(path)).state;
  }

  /** The path's state and, when it could be read, its stat (a rotation check needs both and pays for one). */
  private async inspect(path: string): Promise<{ readonly state: TargetState; readonly stats?: PathStats }> {
    let stats: PathStats;
    try {
      stats = await this.system.stat(path);
    } catch (error) {
      return { state: targetState({ mountPoint: false, statError: errnoOf(error) ?? 'EUNKNOWN' }) };
    }
    if (!stats.isDirectory()) return { state: targetState({ mountPoint: false, isDirectory: false }), stats };
    const parent = await this.system.stat(posix.dirname(path));
    return { state: targetState({ mountPoint: stats.dev !== parent.dev, isDirectory: true }), stats };
  }

  private async kindOf(path: string): Promise<TargetComponentKind> {
    try {
      const stats = await this.system.lstat(path);
      if (stats.isSymbolicLink()) return 'symbolic link';
      return stats.isDirectory() ? 'directory' : 'not a directory';
    } catch (error) {
      const code = errnoOf(error);
      if (code === 'ENOENT') return 'missing';
      // A mount point whose file system is gone is a directory kubelet made; the mounter replaces it.
      if (code !== undefined && CORRUPT_MOUNT_ERRORS.has(code)) return 'directory';
      throw error;
    }
  }

  /** The target, normalised, refused unless it lies under the kubelet root (a lexical check). */
  private underRoot(target: string): string {
    const path = trimSlashes(posix.normalize(target));
    if (!posix.isAbsolute(path) || !path.startsWith(`${this.kubeletRoot}/`)) {
      throw new DomainError('InvalidTargetPath', `target "${target}" is outside the kubelet root "${this.kubeletRoot}"`);
    }
    return path;
  }
}

function trimSlashes(path: string): string {
  return path.length > 1 ? path.replace(/\/+$/, '') : path;
}

function errnoOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
