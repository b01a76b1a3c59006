import type { PodStatus } from './pod-status.js';
import type { TargetPath } from './target-path.js';
import { UNKNOWN_VOLUME_ID, type StringMap, type VolumeBinding, type VolumeRequest } from './volume-binding.js';
import { VolumeContextKey } from './volume-context.js';

/**
 * Restart recovery: a restarted driver has forgotten its bindings. It rebuilds them from its node's pod
 * status records, the pods the cluster knows and the mounts in place, so rotation resumes without
 * waiting for kubelet to publish again (which it only does when the CSIDriver asks for republishing).
 */

/** The class generation a recovered mount was built from is unknown; one no class has makes the first check sync the Secrets. */
export const UNKNOWN_CLASS_GENERATION = -1;

/** What recovery reads of a pod (the pod source's PodInfo has these fields). */
export interface RecoverablePod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly serviceAccountName: string;
  readonly csiVolumes: readonly { readonly name: string; readonly volumeAttributes: StringMap }[];
}

/** What a restarted driver knows about one pod status record of its node. */
export interface RecoveryFacts<Pod extends RecoverablePod = RecoverablePod> {
  readonly status: PodStatus;
  /** The record's target path, parsed. */
  readonly target: TargetPath;
  /** Whether something is mounted at the target now. */
  readonly targetMounted: boolean;
  /** The pod the record names, as the cluster knows it now; undefined when there is none. */
  readonly pod: Pod | undefined;
  /** The group the mounted volume's root belongs to (the pod's fsGroup it was published with); undefined for root's. */
  readonly mountGroup?: number;
}

export type RecoveryFinding<Pod extends RecoverablePod = RecoverablePod> =
  | { readonly kind: 'recovered'; readonly request: VolumeRequest; readonly pod: Pod }
  /** Nothing is mounted at the target, so nothing to rotate; kubelet publishes again if the pod still runs. */
  | { readonly kind: 'stale'; readonly reason: string }
  /** Mounted, but its pod is gone or replaced; kubelet's own cleanup unmounts it, the driver deletes nothing. */
  | { readonly kind: 'orphaned'; readonly reason: string }
  /** Mounted for a live pod, but its request cannot be rebuilt; it resumes at kubelet's next publish. */
  | { readonly kind: 'unrecoverable'; readonly reason: string };

/**
 * Decides what a record is after a restart and, for a mount of a live pod, rebuilds the request kubelet
 * sent: the volume context is the pod volume's attributes overlaid by the pod information kubelet adds
 * (podInfoOnMount; kubelet's own keys win). Credentials are not known: no tokens, no node-publish secrets.
 * The mount group is the one the mounted volume belongs to, so rotated files keep their owner and modes.
 */
export function recoveryFinding<Pod extends RecoverablePod>({ status, target, targetMounted, pod, mountGroup }: RecoveryFacts<Pod>): RecoveryFinding<Pod> {
  const podName = `${status.namespace}/${status.podName}`;
  if (!status.mounted) return { kind: 'stale', reason: 'the pod status record says the volume is not mounted' };
  if (!targetMounted) return { kind: 'stale', reason: 'nothing is mounted at the target' };
  if (pod === undefined) return { kind: 'orphaned', reason: `pod ${podName} no longer exists` };
  if (pod.uid !== target.podUid) {
    return { kind: 'orphaned', reason: `pod ${podName} is now uid ${pod.uid}; the target belongs to uid ${target.podUid}` };
  }
  const volume = pod.csiVolumes.find(({ name }) => name === target.volumeName);
  if (volume === undefined) return { kind: 'unrecoverable', reason: `pod ${podName} has no csi volume "${target.volumeName}"` };
  const volumeClass = volume.volumeAttributes[VolumeContextKey.secretProviderClass];
  if (volumeClass !== status.secretProviderClassName) {
    return {
      kind: 'unrecoverable',
      reason: `volume "${target.volumeName}" of pod ${podName} names class "${volumeClass ?? ''}", the record "${status.secretProviderClassName}"`,
    };
  }
  const volumeContext: StringMap = {
    ...volume.volumeAttributes,
    [VolumeContextKey.podName]: pod.name,
    [VolumeContextKey.podNamespace]: pod.namespace,
    [VolumeContextKey.podUid]: pod.uid,
    [VolumeContextKey.serviceAccountName]: pod.serviceAccountName,
    [VolumeContextKey.ephemeral]: 'true',
  };
  const request: VolumeRequest = {
    volumeId: UNKNOWN_VOLUME_ID,
    target,
    pod: { namespace: pod.namespace, name: pod.name, uid: pod.uid, serviceAccountName: pod.serviceAccountName },
    className: status.secretProviderClassName,
    volumeContext,
    nodePublishSecrets: {},
    serviceAccountTokens: undefined,
    mountGroup,
  };
  return { kind: 'recovered', request, pod };
}

/**
 * The binding of a recovered request. The mounted versions are the record's (the provider gets them as
 * the current versions); the class generation is unknown, so the first check syncs the Secrets again.
 * When the volume was mounted and last confirmed current is not recorded: both read as the recovery time.
 */
export function recoveredBinding(request: VolumeRequest, status: PodStatus, providerName: string, now: number): VolumeBinding {
  return {
    request,
    providerName,
    objectVersions: status.objects,
    classGeneration: UNKNOWN_CLASS_GENERATION,
    secretsInSync: true,
    mountedAt: now,
    contentConfirmedAt: now,
    rotationReport: status.rotation ?? {},
  };
}
