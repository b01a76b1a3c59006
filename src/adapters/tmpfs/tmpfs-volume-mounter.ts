import { posix } from 'node:path';
import { DomainError } from '../../domain/errors.js';
import type { VolumeMounter } from '../../ports/volume-mounter.js';
import { nodeMountSystem, type MountSystem, type PathStats } from './mount-system.js';

export const DEFAULT_KUBELET_ROOT = '/var/lib/kubelet';
/**
 * A provider response is at most `--max-call-recv-msg-size` (4 MiB by default) and a rotation holds
 * the old and the new version side by side for a moment: 16 MiB fits both with room to spare while
 * keeping a runaway payload from eating node memory (tmpfs pages count against memory).
 */
export const DEFAULT_TMPFS_SIZE = '16m';

const TARGET_MODE = 0o750;
const MAX_STACKED_MOUNTS = 8;
/** stat(2) errors of a mount point whose file system is gone (a dead FUSE daemon, a broken device). */
const CORRUPT_MOUNT_ERRORS = new Set(['ENOTCONN', 'EIO', 'ESTALE']);
const SIZE_PATTERN = /^[1-9][0-9]*[kmg%]?$/i;

export interface TmpfsVolumeMounterOptions {
  /** Targets must lie under it (`--kubelet-root`); default /var/lib/kubelet. */
  readonly kubeletRoot?: string;
  /** tmpfs `size=` option: bytes with an optional k/m/g suffix or a % of RAM; default 16m. */
  readonly sizeLimit?: string;
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

/**
 * Mounts a private tmpfs (`size=<limit>,mode=0750,noexec,nosuid,nodev`) on each target so secret
 * files never reach the node's disk; detects mounts through /proc/self/mountinfo, replaces a
 * corrupt mount, and removes the directory on unmount. Targets outside the kubelet root, targets
 * that are symbolic links and targets whose parents lead outside the root through a link are
 * refused with InvalidTargetPath; a failing mount(8)/umount(8) becomes Internal with its stderr.
 */
export class TmpfsVolumeMounter implements VolumeMounter {
  private readonly kubeletRoot: string;
  private readonly sizeLimit: string;
  private readonly system: MountSystem;

  constructor(options: TmpfsVolumeMounterOptions = {}) {
    this.kubeletRoot = trimSlashes(posix.normalize(options.kubeletRoot ?? DEFAULT_KUBELET_ROOT));
    this.sizeLimit = options.sizeLimit ?? DEFAULT_TMPFS_SIZE;
    this.system = options.system ?? nodeMountSystem();
    if (!SIZE_PATTERN.test(this.sizeLimit)) {
      throw new RangeError(`invalid tmpfs size limit "${this.sizeLimit}": expected a number with an optional k, m, g or % suffix`);
    }
  }

  async isMounted(target: string): Promise<boolean> {
    const state = await this.stateOf(await this.resolveTarget(target));
    return state === 'mounted' || state === 'corrupt';
  }

  async mount(target: string): Promise<void> {
    const path = await this.resolveTarget(target);
    const state = await this.stateOf(path);
    if (state === 'mounted') return;
    if (state === 'not-a-directory') throw new DomainError('InvalidTargetPath', `target "${target}" exists and is not a directory`);
    if (state === 'corrupt') await this.unmountAll(path);
    await this.system.makeDirectories(path, TARGET_MODE);
    const options = `size=${this.sizeLimit},mode=0750,noexec,nosuid,nodev`;
    await this.system.run('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', path]).catch((error: unknown) => {
      throw new DomainError('Internal', `mounting a tmpfs on "${path}" failed: ${messageOf(error)}`);
    });
  }

  async unmount(target: string): Promise<void> {
    const path = await this.resolveTarget(target);
    await this.unmountAll(path);
    const state = await this.stateOf(path);
    if (state === 'directory') await this.system.removeTree(path);
  }

  /** Unmounts every mount stacked on the path, lazily when a plain umount fails (busy, corrupt). */
  private async unmountAll(path: string): Promise<void> {
    for (let round = 0; round < MAX_STACKED_MOUNTS; round++) {
      const state = await this.stateOf(path);
      if (state !== 'mounted' && state !== 'corrupt') return;
      await this.system.run('umount', [path]).catch(() =>
        this.system.run('umount', ['-l', path]).catch((error: unknown) => {
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
    let stats: PathStats;
    try {
      stats = await this.system.stat(path);
    } catch (error) {
      return targetState({ mountPoint: false, statError: errnoOf(error) ?? 'EUNKNOWN' });
    }
    if (!stats.isDirectory()) return targetState({ mountPoint: false, isDirectory: false });
    const parent = await this.system.stat(posix.dirname(path));
    return targetState({ mountPoint: stats.dev !== parent.dev, isDirectory: true });
  }

  /**
   * The canonical path of a target (its existing ancestors resolved, as the mount table spells
   * mount points), refused unless it stays under the kubelet root and is not itself a link.
   */
  private async resolveTarget(target: string): Promise<string> {
    const path = trimSlashes(posix.normalize(target));
    if (!posix.isAbsolute(path) || !path.startsWith(`${this.kubeletRoot}/`)) {
      throw new DomainError('InvalidTargetPath', `target "${target}" is outside the kubelet root "${this.kubeletRoot}"`);
    }
    if (await this.isSymbolicLink(path)) {
      throw new DomainError('InvalidTargetPath', `target "${target}" is a symbolic link; refusing to mount there`);
    }
    const root = await this.realpathOr(this.kubeletRoot, this.kubeletRoot);
    const resolved = await this.resolveAncestors(path);
    if (!resolved.startsWith(`${root}/`)) {
      throw new DomainError('InvalidTargetPath', `target "${target}" resolves to "${resolved}", outside the kubelet root "${root}"`);
    }
    return resolved;
  }

  /** Resolves the longest existing ancestor of the path's parent and appends the rest unchanged. */
  private async resolveAncestors(path: string): Promise<string> {
    const rest: string[] = [posix.basename(path)];
    let ancestor = posix.dirname(path);
    for (;;) {
      try {
        return posix.join(await this.system.realpath(ancestor), ...rest);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT' || ancestor === '/') throw error;
        rest.unshift(posix.basename(ancestor));
        ancestor = posix.dirname(ancestor);
      }
    }
  }

  private async isSymbolicLink(path: string): Promise<boolean> {
    try {
      return (await this.system.lstat(path)).isSymbolicLink();
    } catch {
      return false; // missing, or a corrupt mount point: neither is a link
    }
  }

  private async realpathOr(path: string, fallback: string): Promise<string> {
    return this.system.realpath(path).catch(() => fallback);
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
