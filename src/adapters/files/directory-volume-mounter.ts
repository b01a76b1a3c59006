import { DomainError } from '../../domain/errors.js';
import type { VolumeMounter } from '../../ports/volume-mounter.js';
import { errorCode, type FileSystem } from './file-system.js';

const TARGET_MODE = 0o750;

/**
 * A VolumeMounter that "mounts" a plain directory (0750): for the simulation when the process
 * cannot mount a tmpfs, and for tests on memfs. Files written there live on whatever file system
 * holds the directory, so this is never the production mounter. `isMounted` = the directory exists.
 * A target that is a symbolic link or not a directory is refused with InvalidTargetPath.
 */
export class DirectoryVolumeMounter implements VolumeMounter {
  constructor(private readonly fs: FileSystem) {}

  async isMounted(target: string): Promise<boolean> {
    return (await this.kindOf(target)) === 'directory';
  }

  async mount(target: string): Promise<void> {
    const kind = await this.kindOf(target);
    if (kind === 'directory') return;
    if (kind !== 'missing') throw new DomainError('InvalidTargetPath', `target "${target}" exists and is ${kind}; refusing to mount there`);
    await this.fs.mkdir(target, { mode: TARGET_MODE, recursive: true });
    await this.fs.chmod(target, TARGET_MODE); // mkdir's mode is subject to umask
  }

  async unmount(target: string): Promise<void> {
    const kind = await this.kindOf(target);
    if (kind === 'missing') return;
    if (kind !== 'directory') throw new DomainError('InvalidTargetPath', `target "${target}" is ${kind}; refusing to remove it`);
    await this.fs.removeTree(target);
  }

  private async kindOf(target: string): Promise<'missing' | 'directory' | 'a symbolic link' | 'not a directory'> {
    try {
      const stats = await this.fs.lstat(target);
      if (stats.isSymbolicLink()) return 'a symbolic link';
      return stats.isDirectory() ? 'directory' : 'not a directory';
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return 'missing';
      throw error;
    }
  }
}
