import type { TargetPath } from '../domain/target-path.js';
import type { VolumeRequest } from '../domain/volume-binding.js';
import type { Logger } from '../ports/logger.js';
import type { MountWriter } from '../ports/mount-writer.js';
import type { VolumeMounter } from '../ports/volume-mounter.js';

/**
 * Takes a volume away, removing only what the driver made: the tmpfs, the files it wrote beneath it
 * (a plain-directory volume, or a crash before the mount), the directory when that leaves it empty.
 * A directory holding anything else stays where it is,
 * with a warning, as kubelet and the upstream driver leave it. A target with a symbolic link below
 * the kubelet root is refused before anything is touched. Idempotent: each step accepts that it
 * already happened. The pod status object the mount recorded stays, as upstream leaves it: the pod
 * owns it, so the garbage collector removes it (and the Secrets it owns) with the pod, and until then
 * it tells what was mounted last.
 */
export class UnpublishVolume {
  constructor(
    private readonly writer: MountWriter,
    private readonly mounter: VolumeMounter,
    private readonly logger: Logger,
  ) {}

  /** `mounted` is the request the volume was published with, when this process knows it. */
  async execute(target: TargetPath, mounted: VolumeRequest | undefined): Promise<void> {
    await this.mounter.checkTarget(target);
    const path = target.path;
    await this.mounter.unmount(path);
    await this.writer.clear(path);
    const removal = await this.mounter.removeTarget(path);
    if (removal.kind === 'kept') {
      this.logger.warn('target directory left in place: it holds files the driver did not write', { target: path, entries: removal.entries });
    }
    if (mounted !== undefined) {
      const { pod } = mounted;
      this.logger.info('volume unmounted', { pod: `${pod.namespace}/${pod.name}`, class: mounted.className, target: path });
    }
  }
}
