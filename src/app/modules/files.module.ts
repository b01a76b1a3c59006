import { ContainerModule } from 'inversify';
import type { Volume } from 'memfs';
import { AtomicMountWriter } from '../../adapters/files/atomic-mount-writer.js';
import { DirectoryVolumeMounter } from '../../adapters/files/directory-volume-mounter.js';
import { memfsFileSystem, nodeFileSystem, type FileSystem } from '../../adapters/files/file-system.js';
import { probeMountCapability } from '../../adapters/tmpfs/can-mount.js';
import { TmpfsVolumeMounter } from '../../adapters/tmpfs/tmpfs-volume-mounter.js';
import { Clock } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import { MountWriter } from '../../ports/mount-writer.js';
import { VolumeMounter } from '../../ports/volume-mounter.js';

export type MountMode = 'tmpfs' | 'directory';

/** The atomic writer and a mounter over one file system. */
function filesModule(fs: FileSystem, mounter: VolumeMounter): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(MountWriter)
      .toResolvedValue((clock: Clock) => new AtomicMountWriter(fs, { clock }), [Clock])
      .inSingletonScope();
    bind(VolumeMounter).toConstantValue(mounter);
  });
}

/** Real files: a tmpfs per target, or plain directories where the process cannot mount. */
export function nodeFilesModule(mode: MountMode, kubeletRoot: string): ContainerModule {
  const fs = nodeFileSystem();
  return filesModule(fs, mode === 'tmpfs' ? new TmpfsVolumeMounter({ kubeletRoot }) : new DirectoryVolumeMounter(fs));
}

/** Files in a memfs volume (fast application tests). */
export function memfsFilesModule(volume: Volume): ContainerModule {
  const fs = memfsFileSystem(volume);
  return filesModule(fs, new DirectoryVolumeMounter(fs));
}

/**
 * tmpfs when this process can mount; otherwise, where a fallback is allowed (local profiles), plain
 * directories, said once in the log. The production profile refuses to start instead: secrets must
 * not reach the node's disk.
 */
export async function chooseMountMode(allowFallback: boolean, logger: Logger): Promise<MountMode> {
  const capability = await probeMountCapability();
  if (capability.canMount) return 'tmpfs';
  if (!allowFallback) {
    throw new Error(`cannot mount tmpfs volumes (${capability.reason}): run the driver as root or with CAP_SYS_ADMIN`);
  }
  logger.warn('cannot mount tmpfs here; secrets are written to plain directories under the kubelet root', { reason: capability.reason });
  return 'directory';
}
