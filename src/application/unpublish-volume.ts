import { podStatusName } from '../domain/pod-status.js';
import type { VolumeRequest } from '../domain/volume-binding.js';
import type { Logger } from '../ports/logger.js';
import type { MountWriter } from '../ports/mount-writer.js';
import type { PodStatusStore } from '../ports/pod-status-store.js';
import type { VolumeMounter } from '../ports/volume-mounter.js';

/**
 * Takes a volume away: files, then the tmpfs, then the directory, then the pod status object the
 * mount recorded. Idempotent: each step accepts that it already happened.
 */
export class UnpublishVolume {
  constructor(
    private readonly writer: MountWriter,
    private readonly mounter: VolumeMounter,
    private readonly statuses: PodStatusStore,
    private readonly logger: Logger,
  ) {}

  /** `mounted` is the request the volume was published with, when this process knows it. */
  async execute(targetPath: string, mounted: VolumeRequest | undefined): Promise<void> {
    await this.writer.clear(targetPath);
    await this.mounter.unmount(targetPath);
    if (mounted !== undefined) {
      const { pod } = mounted;
      await this.statuses.delete(pod.namespace, podStatusName(pod.name, pod.namespace, mounted.className));
      this.logger.info('volume unmounted', { pod: `${pod.namespace}/${pod.name}`, class: mounted.className, target: targetPath });
    }
  }
}
