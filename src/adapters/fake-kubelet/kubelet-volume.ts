import { createHash } from 'node:crypto';
import { mkdir, rm, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PodIdentity, PublishCommand, StringMap } from '../../domain/volume-binding.js';

/**
 * How kubelet's CSI volume plugin (Kubernetes v1.34) lays out and describes an inline volume: its
 * handle, directory, vol_data.json and the NodePublishVolume arguments. The kubelet doubles build
 * every call from here, so they cannot drift apart.
 */

export const DRIVER_NAME = 'secrets-store.csi.k8s.io';

const POD_INFO_KEYS = {
  name: 'csi.storage.k8s.io/pod.name',
  namespace: 'csi.storage.k8s.io/pod.namespace',
  uid: 'csi.storage.k8s.io/pod.uid',
  serviceAccount: 'csi.storage.k8s.io/serviceAccount.name',
  ephemeral: 'csi.storage.k8s.io/ephemeral',
} as const;

export const SERVICE_ACCOUNT_TOKENS_KEY = 'csi.storage.k8s.io/serviceAccount.tokens';

/** An inline CSI volume of the driver in a pod spec, with the data of its nodePublishSecretRef. */
export interface InlineVolume {
  readonly name: string;
  readonly volumeAttributes: StringMap;
  /** Data of the volume's nodePublishSecretRef Secret, when it has one. */
  readonly nodePublishSecrets?: StringMap;
  /** `csi.readOnly`, passed as is (kubelet does not default it to true). */
  readonly readOnly?: boolean;
}

/** What the CSIDriver object makes kubelet add to the call. */
export interface PublishExtras {
  /** CSIDriver `podInfoOnMount`: the pod's name, namespace, uid, service account and `ephemeral`. */
  readonly podInfoOnMount: boolean;
  /** The service-account tokens JSON, when the CSIDriver has `tokenRequests`. */
  readonly serviceAccountTokens?: string;
  /** The pod's fsGroup, for a driver that applies it itself (VOLUME_MOUNT_GROUP). */
  readonly volumeMountGroup?: string;
}

/** kubelet's handle for an inline volume: `csi-` + hex SHA-256 of pod UID + volume name. */
export function volumeId(podUid: string, volumeName: string): string {
  return `csi-${sha256Hex(podUid + volumeName)}`;
}

/** The VolumeAttachment name kubelet records even for volumes that are never attached. */
export function attachmentId(volumeHandle: string, driverName: string, nodeName: string): string {
  return `csi-${sha256Hex(volumeHandle + driverName + nodeName)}`;
}

export function volumeDir(kubeletRoot: string, podUid: string, volumeName: string): string {
  return join(kubeletRoot, 'pods', podUid, 'volumes', 'kubernetes.io~csi', volumeName);
}

export function targetPath(kubeletRoot: string, podUid: string, volumeName: string): string {
  return join(volumeDir(kubeletRoot, podUid, volumeName), 'mount');
}

/**
 * vol_data.json as kubelet writes it next to `mount` before NodePublishVolume: these six keys, in Go's
 * (sorted) order, and no pod UID.
 */
export function volumeData(driverName: string, nodeName: string, podUid: string, volumeName: string): Record<string, string> {
  const handle = volumeId(podUid, volumeName);
  return {
    attachmentID: attachmentId(handle, driverName, nodeName),
    driverName,
    nodeName,
    specVolID: volumeName,
    volumeHandle: handle,
    volumeLifecycleMode: 'Ephemeral',
  };
}

/** The text of vol_data.json: Go's JSON encoder writes the map on one line and ends it with a newline. */
export function volumeDataFile(driverName: string, nodeName: string, podUid: string, volumeName: string): string {
  return `${JSON.stringify(volumeData(driverName, nodeName, podUid, volumeName))}\n`;
}

/** NodePublishVolume's arguments for an inline volume of a pod. */
export function publishCommand(kubeletRoot: string, pod: PodIdentity, volume: InlineVolume, extras: PublishExtras): PublishCommand {
  const podInfo: StringMap = extras.podInfoOnMount
    ? {
        [POD_INFO_KEYS.name]: pod.name,
        [POD_INFO_KEYS.namespace]: pod.namespace,
        [POD_INFO_KEYS.uid]: pod.uid,
        [POD_INFO_KEYS.serviceAccount]: pod.serviceAccountName,
        [POD_INFO_KEYS.ephemeral]: 'true',
      }
    : {};
  const tokens: StringMap = extras.serviceAccountTokens !== undefined ? { [SERVICE_ACCOUNT_TOKENS_KEY]: extras.serviceAccountTokens } : {};
  return {
    volumeId: volumeId(pod.uid, volume.name),
    targetPath: targetPath(kubeletRoot, pod.uid, volume.name),
    readonly: volume.readOnly ?? false,
    volumeContext: { ...volume.volumeAttributes, ...podInfo, ...tokens },
    secrets: { ...(volume.nodePublishSecrets ?? {}) },
    ...(extras.volumeMountGroup !== undefined ? { volumeMountGroup: extras.volumeMountGroup } : {}),
  };
}

/** What kubelet does before NodePublishVolume: the volume directory (0750) and its vol_data.json. */
export async function prepareVolumeDir(kubeletRoot: string, driverName: string, nodeName: string, podUid: string, volumeName: string): Promise<void> {
  const dir = volumeDir(kubeletRoot, podUid, volumeName);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  await writeFile(join(dir, 'vol_data.json'), volumeDataFile(driverName, nodeName, podUid, volumeName));
}

/**
 * What kubelet removes after NodeUnpublishVolume, or after a publish that failed for good: `mount` (if
 * the driver left it, and only when empty), vol_data.json and the volume directory. A leftover mount
 * or file makes it fail rather than delete what the driver left behind.
 */
export async function removeVolumeDir(kubeletRoot: string, podUid: string, volumeName: string): Promise<void> {
  const dir = volumeDir(kubeletRoot, podUid, volumeName);
  await removeEmptyDir(join(dir, 'mount'), true);
  await rm(join(dir, 'vol_data.json'), { force: true });
  await removeEmptyDir(dir, false);
}

/** Removes the pod's directories up to `pods/<uid>` where they are empty (other volumes may remain). */
export async function removePodDirs(kubeletRoot: string, podUid: string): Promise<void> {
  const pod = join(kubeletRoot, 'pods', podUid);
  for (const dir of [join(pod, 'volumes', 'kubernetes.io~csi'), join(pod, 'volumes'), pod]) await removeEmptyDir(dir, false);
}

async function removeEmptyDir(dir: string, mustBeEmpty: boolean): Promise<void> {
  try {
    await rmdir(dir);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && !mustBeEmpty) return;
    if (code === 'ENOTEMPTY' || code === 'EEXIST') throw new Error(`"${dir}" is not empty: the driver left files behind`);
    throw error;
  }
}

function sha256Hex(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
