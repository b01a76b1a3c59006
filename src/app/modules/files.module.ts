import { ContainerModule } from 'inversify';
import type { Volume } from 'memfs';
import { AtomicMountWriter } from '../../adapters/files/atomic-mount-writer.js';
import { DirectoryVolumeMounter } from '../../adapters/files/directory-volume-mounter.js';
import { blockingNodeFileSystem, memfsFileSystem, nodeFileSystem, type FileSystem } from '../../adapters/files/file-system.js';
import { RECOMMENDED_RETIREMENT_GRACE_MS } from '../../adapters/files/retired-versions.js';
import { probeMountCapability } from '../../adapters/tmpfs/can-mount.js';
import { TmpfsVolumeMounter } from '../../adapters/tmpfs/tmpfs-volume-mounter.js';
import { Clock, Scheduler } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import { MountWriter } from '../../ports/mount-writer.js';
import { VolumeMounter } from '../../ports/volume-mounter.js';

export type MountMode = 'tmpfs' | 'directory';

/**
 * The atomic writer and a mounter over one file system. A replaced version stays readable for a
 * short grace period: a reader that resolved `..data` just before the swap still finds its files.
 */
function filesModule(fs: FileSystem, mounter: VolumeMounter): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(MountWriter)
      .toResolvedValue(
        (clock: Clock, scheduler: Scheduler) =>
          new AtomicMountWriter(fs, { clock, retirement: { graceMs: RECOMMENDED_RETIREMENT_GRACE_MS, scheduler } }),
        [Clock, Scheduler],
      )
      .inSingletonScope();
    bind(VolumeMounter).toConstantValue(mounter);
  });
}

/**
 * Real files: a tmpfs per target, written with synchronous calls (on tmpfs a thread-pool round trip
 * costs more than the call), or plain directories with asynchronous calls where the process cannot mount.
 */
export function nodeFilesModule(mode: MountMode, kubeletRoot: string): ContainerModule {
  if (mode === 'tmpfs') return filesModule(blockingNodeFileSystem(), new TmpfsVolumeMounter({ kubeletRoot }));
  const fs = nodeFileSystem();
  return filesModule(fs, new DirectoryVolumeMounter(fs));
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
