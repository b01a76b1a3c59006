import type { OwnerReference } from '../domain/owner-reference.js';
import type { PodStatus, StoredPodStatus } from '../domain/pod-status.js';

/**
 * Persists SecretProviderClassPodStatus records (the versions mounted per pod x class).
 * Contract: `save` creates or updates the record named `status.name` (retrying on write conflicts),
 * labels it with the node name and makes `owner` (the Pod) its owner; it writes nothing when the
 * stored record already equals `status`. `listByNode` returns the records of a node. Records are never
 * deleted by the driver: the Pod owns them and the garbage collector removes them with it.
 */
export interface PodStatusStore {
  get(namespace: string, name: string): Promise<StoredPodStatus | undefined>;
  save(status: PodStatus, owner: OwnerReference): Promise<StoredPodStatus>;
  listByNode(nodeName: string): Promise<StoredPodStatus[]>;
}
export const PodStatusStore = Symbol.for('PodStatusStore');
