import type { PodOwner, PodOwners } from '../../ports/pod-owners.js';
import type { PodResource, ReplicaSetResource } from '../kube-objects/object-shapes.js';
import { podOwner } from '../kube-objects/workload-mapping.js';
import { apiError, isNotFound } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';

export interface KubernetesPodOwnersOptions {
  readonly client: KubernetesClient;
  /** How many pods' owners are remembered (the oldest are forgotten first). */
  readonly remembered?: number;
}

/**
 * Pod owners read with `get` on the pod and, for a Deployment's pod, its ReplicaSet: no cluster-wide pod
 * watch, since only the pods of pod status objects are asked about. Owners and creation times of a pod
 * do not change, so answers are remembered by pod uid. Failed reads reject with an Internal DomainError.
 */
export class KubernetesPodOwners implements PodOwners {
  private readonly known = new Map<string, PodOwner>();

  constructor(private readonly options: KubernetesPodOwnersOptions) {}

  async ownerOf(pod: { readonly namespace: string; readonly name: string; readonly uid: string }): Promise<PodOwner | undefined> {
    const remembered = this.known.get(pod.uid);
    if (remembered !== undefined) return remembered;
    const stored = await this.read<PodResource>(`pod ${pod.namespace}/${pod.name}`, apiPaths.pod(pod.namespace, pod.name));
    if (stored === undefined || stored.metadata.uid !== pod.uid) return undefined;
    const owner = await podOwner(stored, (namespace, name) =>
      this.read<ReplicaSetResource>(`replicaset ${namespace}/${name}`, apiPaths.appsObject('replicasets', namespace, name)),
    );
    this.remember(pod.uid, owner);
    return owner;
  }

  private async read<T>(what: string, path: string): Promise<T | undefined> {
    try {
      return await this.options.client.api.get<T>(path);
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw apiError(`failed to get ${what}`, error);
    }
  }

  private remember(uid: string, owner: PodOwner): void {
    this.known.set(uid, owner);
    const limit = this.options.remembered ?? 10_000;
    while (this.known.size > limit) this.known.delete(this.known.keys().next().value!);
  }
}
