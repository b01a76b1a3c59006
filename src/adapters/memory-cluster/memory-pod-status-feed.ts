import type { StoredPodStatus } from '../../domain/pod-status.js';
import type { PodStatusChange, PodStatusFeed } from '../../ports/pod-status-feed.js';
import { toStoredPodStatus } from '../kube-objects/pod-status-mapping.js';
import type { InMemoryCluster } from './cluster-store.js';

/**
 * Every pod status object of the in-memory cluster. Each subscription keeps the records it last told of
 * (from the moment it subscribed), so a change carries the record before it, as a watch cache would.
 */
export class MemoryPodStatusFeed implements PodStatusFeed {
  constructor(private readonly cluster: InMemoryCluster) {}

  async list(namespace: string): Promise<StoredPodStatus[]> {
    return this.cluster.list('SecretProviderClassPodStatus', { namespace }).map(toStoredPodStatus);
  }

  onChange(listener: (change: PodStatusChange) => void): () => void {
    // Listed and watched in one turn: the watch delivers only changes committed after the list.
    const known = new Map<string, StoredPodStatus>();
    for (const object of this.cluster.list('SecretProviderClassPodStatus')) known.set(keyOf(object.metadata.namespace!, object.metadata.name), toStoredPodStatus(object));
    return this.cluster.watch('SecretProviderClassPodStatus', ({ type, object }) => {
      const key = keyOf(object.metadata.namespace!, object.metadata.name);
      const previous = known.get(key);
      const current = type === 'DELETED' ? undefined : toStoredPodStatus(object);
      if (current === undefined) known.delete(key);
      else known.set(key, current);
      listener({ previous, current });
    });
  }
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
