import type { StoredPodStatus } from '../../domain/pod-status.js';
import type { PodStatusChange, PodStatusFeed } from '../../ports/pod-status-feed.js';
import { toStoredPodStatus } from '../kube-objects/pod-status-mapping.js';
import type { InMemoryCluster } from './cluster-store.js';

/**
 * Every pod status object of the in-memory cluster. It keeps the records it last told of, so a change
 * carries the record before it, as a watch cache would.
 */
export class MemoryPodStatusFeed implements PodStatusFeed {
  private readonly known = new Map<string, StoredPodStatus>();

  constructor(private readonly cluster: InMemoryCluster) {
    for (const object of cluster.list('SecretProviderClassPodStatus')) this.known.set(keyOf(object.metadata.namespace!, object.metadata.name), toStoredPodStatus(object));
  }

  async list(namespace: string): Promise<StoredPodStatus[]> {
    return this.cluster.list('SecretProviderClassPodStatus', { namespace }).map(toStoredPodStatus);
  }

  onChange(listener: (change: PodStatusChange) => void): () => void {
    return this.cluster.watch('SecretProviderClassPodStatus', ({ type, object }) => {
      const key = keyOf(object.metadata.namespace!, object.metadata.name);
      const previous = this.known.get(key);
      const current = type === 'DELETED' ? undefined : toStoredPodStatus(object);
      if (current === undefined) this.known.delete(key);
      else this.known.set(key, current);
      listener({ previous, current });
    });
  }
}

function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
