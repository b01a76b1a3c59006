import { DomainError } from '../../domain/errors.js';
import { checkTargetDirectories, type TargetComponentKind, type TargetPath } from '../../domain/target-path.js';
import type { VolumeSettings } from '../../domain/volume-ownership.js';
import type { TargetRemoval, VolumeMounter } from '../../ports/volume-mounter.js';
import { errorCode, type FileSystem } from './file-system.js';

/**
 * A VolumeMounter that "mounts" a plain directory (with the settings' mode and group, no size): for
 * the simulation when the process cannot mount a tmpfs, and for tests on memfs. Files written there
 * live on whatever file system holds the directory, so this is never the production mounter.
 * `isMounted` = the directory exists; `unmount` has nothing to do. A target that is a symbolic link or
 * not a directory is refused with InvalidTargetPath.
 */
export class DirectoryVolumeMounter implements VolumeMounter {
  constructor(private readonly fs: FileSystem) {}

  checkTarget(target: TargetPath): Promise<void> {
    return checkTargetDirectories(target, (path) => this.kindOf(path));
  }

  async isMounted(target: string): Promise<boolean> {
    return (await this.kindOf(target)) === 'directory';
  }

  async mount(target: string, settings: VolumeSettings): Promise<void> {
    const kind = await this.kindOf(target);
    if (kind === 'directory') return;
    if (kind !== 'missing') throw new DomainError('InvalidTargetPath', `target "${target}" exists and is ${kind}; refusing to mount there`);
    await this.fs.mkdir(target, { mode: settings.mode, recursive: true });
    await this.fit(target, settings);
  }

  async fit(target: string, settings: VolumeSettings): Promise<void> {
    await this.fs.chmod(target, settings.mode); // mkdir's mode is subject to umask
    if (settings.group !== undefined) await this.fs.setGroup(target, settings.group);
  }

  async mountGroup(target: string): Promise<number | undefined> {
    if (!(await this.isMounted(target))) return undefined;
    const { gid } = await this.fs.lstat(target);
    return gid === 0 ? undefined : gid;
  }

  async unmount(): Promise<void> {
    // Nothing is mounted on a plain directory.
  }

  async removeTarget(target: string): Promise<TargetRemoval> {
    const kind = await this.kindOf(target);
    if (kind === 'missing') return { kind: 'missing' };
    if (kind !== 'directory') throw new DomainError('InvalidTargetPath', `target "${target}" is ${kind}; refusing to remove it`);
    const entries = (await this.fs.readdir(target)).length;
    if (entries > 0) return { kind: 'kept', entries };
    await this.fs.removeTree(target);
    return { kind: 'removed' };
  }

  private async kindOf(path: string): Promise<TargetComponentKind> {
    try {
      const stats = await this.fs.lstat(path);
      if (stats.isSymbolicLink()) return 'symbolic link';
      return stats.isDirectory() ? 'directory' : 'not a directory';
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 'missing';
      throw error;
    }
  }
}
