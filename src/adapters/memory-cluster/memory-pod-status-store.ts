import type { OwnerReference } from '../../domain/owner-reference.js';
import { NODE_NAME_LABEL, type PodStatus, type StoredPodStatus } from '../../domain/pod-status.js';
import type { PodStatusStore } from '../../ports/pod-status-store.js';
import type { PodStatusResource } from '../kube-objects/object-shapes.js';
import { toPodStatusObject, toStoredPodStatus, withOwnedPodStatusFields } from '../kube-objects/pod-status-mapping.js';
import { isKubeApiError } from './cluster-errors.js';
import type { InMemoryCluster } from './cluster-store.js';
import { jsonEqual } from './json.js';

/** Write races (another writer created or changed the object first) are retried this many times. */
const MAX_SAVE_ATTEMPTS = 5;

/** SecretProviderClassPodStatus objects in the in-memory cluster, written the way upstream writes them. */
export class MemoryPodStatusStore implements PodStatusStore {
  constructor(private readonly cluster: InMemoryCluster) {}

  async get(namespace: string, name: string): Promise<StoredPodStatus | undefined> {
    const object = this.cluster.get('SecretProviderClassPodStatus', namespace, name);
    return object === undefined ? undefined : toStoredPodStatus(object);
  }

  async save(status: PodStatus, owner: OwnerReference): Promise<StoredPodStatus> {
    const desired = toPodStatusObject(status, owner);
    for (let attempt = 1; ; attempt++) {
      try {
        return toStoredPodStatus(this.saveOnce(desired));
      } catch (error) {
        const raced = isKubeApiError(error, 'Conflict') || isKubeApiError(error, 'AlreadyExists');
        if (!raced || attempt >= MAX_SAVE_ATTEMPTS) throw error;
      }
    }
  }

  async listByNode(nodeName: string): Promise<StoredPodStatus[]> {
    return this.cluster
      .list('SecretProviderClassPodStatus', { labels: { [NODE_NAME_LABEL]: nodeName } })
      .map(toStoredPodStatus);
  }

  /** Creates, or updates from the version just read (a concurrent change makes the update conflict). */
  private saveOnce(desired: PodStatusResource): PodStatusResource {
    const { namespace = 'default', name } = desired.metadata;
    const current = this.cluster.get('SecretProviderClassPodStatus', namespace, name);
    if (current === undefined) return this.cluster.create(desired);
    const next = withOwnedPodStatusFields(current, desired);
    if (jsonEqual(current, next)) return current;
    return this.cluster.update(next);
  }
}
