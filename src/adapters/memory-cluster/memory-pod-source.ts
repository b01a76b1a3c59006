import type { PodInfo, PodSource } from '../../ports/pod-source.js';
import { toPodInfo } from '../kube-objects/pod-mapping.js';
import type { InMemoryCluster } from './cluster-store.js';

/** Pods read from, and watched in, the in-memory cluster. */
export class MemoryPodSource implements PodSource {
  constructor(private readonly cluster: InMemoryCluster) {}

  async get(namespace: string, name: string): Promise<PodInfo | undefined> {
    return this.cluster.read('Pod', namespace, name, toPodInfo);
  }

  onChange(listener: (pod: PodInfo) => void): () => void {
    return this.cluster.watch('Pod', ({ type, object }) => {
      if (type !== 'DELETED') listener(toPodInfo(object));
    });
  }
}
