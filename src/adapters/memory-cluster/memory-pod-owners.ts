import type { PodOwner, PodOwners } from '../../ports/pod-owners.js';
import { podOwner } from '../kube-objects/workload-mapping.js';
import type { InMemoryCluster } from './cluster-store.js';

/** Pod owners read from the in-memory cluster's Pods and ReplicaSets. */
export class MemoryPodOwners implements PodOwners {
  constructor(private readonly cluster: InMemoryCluster) {}

  async ownerOf(pod: { readonly namespace: string; readonly name: string; readonly uid: string }): Promise<PodOwner | undefined> {
    const stored = this.cluster.get('Pod', pod.namespace, pod.name);
    if (stored === undefined || stored.metadata.uid !== pod.uid) return undefined;
    return podOwner(stored, async (namespace, name) => this.cluster.get('ReplicaSet', namespace, name));
  }
}
