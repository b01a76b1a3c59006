import type { WorkloadKey } from '../domain/workload.js';

export interface PodOwner {
  /** The Deployment (through the pod's ReplicaSet), StatefulSet or DaemonSet that controls the pod; undefined for any other pod. */
  readonly workload: WorkloadKey | undefined;
  /** metadata.creationTimestamp, epoch milliseconds. */
  readonly createdAt: number;
}

/**
 * Which workload a pod belongs to, by controller owner references.
 * Contract: resolves undefined when no pod of that name has that uid (gone, or replaced by a pod of the
 * same name). A pod found once may be answered from memory afterwards, even once it is gone: neither the
 * owners nor the creation time of a pod change. Rejects with a DomainError when the API cannot be read.
 */
export interface PodOwners {
  ownerOf(pod: { readonly namespace: string; readonly name: string; readonly uid: string }): Promise<PodOwner | undefined>;
}
export const PodOwners = Symbol.for('PodOwners');
