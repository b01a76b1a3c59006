import type { OwnerReference } from './owner-reference.js';
import type { PodIdentity } from './volume-binding.js';
import type { StoredPodStatus } from './pod-status.js';

export const POD_STATUS_API_VERSION = 'secrets-store.csi.x-k8s.io/v1';
export const POD_STATUS_KIND = 'SecretProviderClassPodStatus';

/** The Pod as owner of its pod status object, so the status is garbage-collected with the pod. */
export function podOwnerReference(pod: PodIdentity): OwnerReference {
  return { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid };
}

/**
 * Who owns a synced Secret: the pod's own owners (e.g. its ReplicaSet) so the Secret outlives pod
 * restarts, or the pod status object for a bare pod, so the Secret goes when the last consumer goes.
 */
export function syncedSecretOwners(podOwners: readonly OwnerReference[], status: StoredPodStatus): OwnerReference[] {
  if (podOwners.length > 0) return podOwners.map(({ apiVersion, kind, name, uid }) => ({ apiVersion, kind, name, uid }));
  return [{ apiVersion: POD_STATUS_API_VERSION, kind: POD_STATUS_KIND, name: status.name, uid: status.uid }];
}
