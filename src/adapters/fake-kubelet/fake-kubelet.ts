import type { PodIdentity, PublishCommand } from '../../domain/volume-binding.js';
import type { NodeVolumes } from '../../ports/node-volumes.js';
import {
  DRIVER_NAME,
  prepareVolumeDir,
  publishCommand,
  removePodDirs,
  removeVolumeDir,
  targetPath,
  volumeId,
  type InlineVolume,
} from './kubelet-volume.js';

export { DRIVER_NAME, volumeId, type InlineVolume };

export interface FakePod extends PodIdentity {
  /** Inline volumes of the driver; one without `readOnly` is published read-only (what the driver requires). */
  readonly volumes: readonly InlineVolume[];
  /** `securityContext.fsGroup`: passed as `volume_mount_group`, as kubelet does for a driver with VOLUME_MOUNT_GROUP. */
  readonly fsGroup?: number;
}

export interface FakeKubeletOptions {
  readonly driverName?: string;
  /** The node written into vol_data.json (kubemark's default node name unless given). */
  readonly nodeName?: string;
  /** CSIDriver `podInfoOnMount` (default true, as deploy/csidriver.yaml). */
  readonly podInfoOnMount?: boolean;
  /** CSIDriver `tokenRequests`: the service-account tokens JSON to pass for a pod (none by default). */
  readonly serviceAccountTokens?: (pod: PodIdentity) => Promise<string | undefined>;
}

/**
 * Does for inline volumes what kubelet does, called step by step (the driver cannot tell the
 * difference): prepares the volume directory with its vol_data.json, calls publish with kubelet's
 * volume id, target path and volume context, republishes on demand, and unpublishes then removes the
 * directories when the pod goes away. For a kubelet that follows pods on its own, see PodWatchingKubelet.
 */
export class FakeKubelet {
  private readonly running = new Map<string, FakePod>();
  private readonly driverName: string;
  private readonly nodeName: string;

  constructor(
    private readonly volumes: NodeVolumes,
    private readonly kubeletRoot: string,
    private readonly options: FakeKubeletOptions = {},
  ) {
    this.driverName = options.driverName ?? DRIVER_NAME;
    this.nodeName = options.nodeName ?? 'fake-node';
  }

  /** Admits a pod: publishes each of its volumes; throws the driver's error for the first that fails. */
  async startPod(pod: FakePod): Promise<void> {
    this.running.set(pod.uid, pod);
    for (const volume of pod.volumes) {
      await prepareVolumeDir(this.kubeletRoot, this.driverName, this.nodeName, pod.uid, volume.name);
      await this.volumes.publish(await this.publishCommand(pod, volume));
    }
  }

  /** What kubelet does on each pod sync for a CSIDriver with requiresRepublish. */
  async republishAll(): Promise<void> {
    for (const pod of this.running.values()) {
      for (const volume of pod.volumes) await this.volumes.publish(await this.publishCommand(pod, volume));
    }
  }

  async deletePod(uid: string): Promise<void> {
    const pod = this.running.get(uid);
    if (pod === undefined) return;
    for (const volume of pod.volumes) {
      await this.volumes.unpublish({ volumeId: volumeId(pod.uid, volume.name), targetPath: this.targetPath(pod, volume.name) });
      await removeVolumeDir(this.kubeletRoot, pod.uid, volume.name);
    }
    await removePodDirs(this.kubeletRoot, pod.uid);
    this.running.delete(uid);
  }

  async deleteAll(): Promise<void> {
    for (const uid of [...this.running.keys()]) await this.deletePod(uid);
  }

  targetPath(pod: PodIdentity, volumeName: string): string {
    return targetPath(this.kubeletRoot, pod.uid, volumeName);
  }

  /** The publish command kubelet sends for a volume of a pod (kubelet's volume id, target path and volume context). */
  async publishCommand(pod: FakePod, volume: InlineVolume): Promise<PublishCommand> {
    const tokens = await this.options.serviceAccountTokens?.(pod);
    return publishCommand(
      this.kubeletRoot,
      pod,
      { ...volume, readOnly: volume.readOnly ?? true },
      {
        podInfoOnMount: this.options.podInfoOnMount ?? true,
        ...(tokens !== undefined ? { serviceAccountTokens: tokens } : {}),
        ...(pod.fsGroup !== undefined ? { volumeMountGroup: String(pod.fsGroup) } : {}),
      },
    );
  }
}
