import { createHash } from 'node:crypto';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PublishCommand, StringMap } from '../../domain/volume-binding.js';
import type { NodeVolumes } from '../../ports/node-volumes.js';

export const DRIVER_NAME = 'secrets-store.csi.k8s.io';

/** An inline CSI volume of this driver in a pod spec. */
export interface InlineVolume {
  readonly name: string;
  readonly volumeAttributes: StringMap;
  /** Data of the volume's nodePublishSecretRef Secret, when it has one. */
  readonly nodePublishSecrets?: StringMap;
  readonly readOnly?: boolean;
}

export interface FakePod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccountName: string;
  readonly volumes: readonly InlineVolume[];
  /** `securityContext.fsGroup`: passed as `volume_mount_group`, as kubelet does for a driver with VOLUME_MOUNT_GROUP. */
  readonly fsGroup?: number;
}

/**
 * Does for inline volumes what kubelet does (the driver cannot tell the difference): prepares the
 * volume directory with its vol_data.json, calls publish with kubelet's volume id, target path and
 * pod-info volume context, republishes on demand, and unpublishes then removes the directory when
 * the pod goes away.
 */
export class FakeKubelet {
  private readonly running = new Map<string, FakePod>();

  constructor(
    private readonly volumes: NodeVolumes,
    private readonly kubeletRoot: string,
    private readonly driverName = DRIVER_NAME,
  ) {}

  /** Admits a pod: publishes each of its volumes; throws the driver's error for the first that fails. */
  async startPod(pod: FakePod): Promise<void> {
    this.running.set(pod.uid, pod);
    for (const volume of pod.volumes) {
      const dir = this.volumeDir(pod, volume);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'vol_data.json'), JSON.stringify(this.volumeData(pod, volume)));
      await this.volumes.publish(this.publishCommand(pod, volume));
    }
  }

  /** What kubelet does about once a minute for a CSIDriver with requiresRepublish. */
  async republishAll(): Promise<void> {
    for (const pod of this.running.values()) {
      for (const volume of pod.volumes) await this.volumes.publish(this.publishCommand(pod, volume));
    }
  }

  async deletePod(uid: string): Promise<void> {
    const pod = this.running.get(uid);
    if (pod === undefined) return;
    for (const volume of pod.volumes) {
      const dir = this.volumeDir(pod, volume);
      await this.volumes.unpublish({ volumeId: volumeId(pod.uid, volume.name), targetPath: join(dir, 'mount') });
      await rm(dir, { recursive: true, force: true });
    }
    this.running.delete(uid);
  }

  async deleteAll(): Promise<void> {
    for (const uid of [...this.running.keys()]) await this.deletePod(uid);
  }

  targetPath(pod: FakePod, volumeName: string): string {
    return join(this.kubeletRoot, 'pods', pod.uid, 'volumes', 'kubernetes.io~csi', volumeName, 'mount');
  }

  private volumeDir(pod: FakePod, volume: InlineVolume): string {
    return join(this.kubeletRoot, 'pods', pod.uid, 'volumes', 'kubernetes.io~csi', volume.name);
  }

  /** The publish command kubelet sends for a volume of a pod (kubelet's volume id, target path and pod-info volume context). */
  publishCommand(pod: FakePod, volume: InlineVolume): PublishCommand {
    return {
      volumeId: volumeId(pod.uid, volume.name),
      targetPath: this.targetPath(pod, volume.name),
      readonly: volume.readOnly ?? true,
      volumeContext: {
        ...volume.volumeAttributes,
        'csi.storage.k8s.io/pod.name': pod.name,
        'csi.storage.k8s.io/pod.namespace': pod.namespace,
        'csi.storage.k8s.io/pod.uid': pod.uid,
        'csi.storage.k8s.io/serviceAccount.name': pod.serviceAccountName,
        'csi.storage.k8s.io/ephemeral': 'true',
      },
      secrets: { ...(volume.nodePublishSecrets ?? {}) },
      ...(pod.fsGroup === undefined ? {} : { volumeMountGroup: String(pod.fsGroup) }),
    };
  }

  private volumeData(pod: FakePod, volume: InlineVolume) {
    return {
      driverName: this.driverName,
      volumeHandle: volumeId(pod.uid, volume.name),
      specVolID: volume.name,
      volumeLifecycleMode: 'Ephemeral',
      podUID: pod.uid,
    };
  }
}

/** kubelet's handle for an inline volume: `csi-` + hex SHA-256 of pod UID + volume name. */
export function volumeId(podUid: string, volumeName: string): string {
  return `csi-${createHash('sha256').update(podUid + volumeName).digest('hex')}`;
}
