import type { StoredPodStatus } from '../../domain/pod-status.js';
import type { Logger } from '../../ports/logger.js';
import type { PodStatusChange, PodStatusFeed } from '../../ports/pod-status-feed.js';
import type { PodStatusResource } from '../kube-objects/object-shapes.js';
import { toStoredPodStatus } from '../kube-objects/pod-status-mapping.js';
import { csiCollection, POD_STATUSES } from './custom-resources.js';
import type { KubernetesClient } from './kubernetes-client.js';
import { slimObject } from './slim-objects.js';
import { listOf, WatchedSource } from './watched-source.js';

export interface KubernetesPodStatusFeedOptions {
  readonly client: KubernetesClient;
  readonly logger?: Logger;
  readonly retryDelayMs?: number;
}

/** The pod status objects of every node from one cluster-wide watch-backed cache. Call `start` once, `stop` on shutdown. */
export class KubernetesPodStatusFeed extends WatchedSource<PodStatusResource> implements PodStatusFeed {
  constructor(options: KubernetesPodStatusFeedOptions) {
    super({
      resource: POD_STATUSES,
      path: csiCollection(POD_STATUSES),
      watch: options.client.watch,
      keep: slimObject,
      list: () => listOf<PodStatusResource>(options.client, csiCollection(POD_STATUSES), {}, slimObject),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    });
  }

  async list(namespace: string): Promise<StoredPodStatus[]> {
    return this.cache
      .list()
      .filter((object) => object.metadata.namespace === namespace)
      .map(toStoredPodStatus);
  }

  onChange(listener: (change: PodStatusChange) => void): () => void {
    return this.cache.subscribe(({ type, object, previous }) =>
      listener({ previous: previous === undefined ? undefined : toStoredPodStatus(previous), current: type === 'DELETED' ? undefined : toStoredPodStatus(object) }),
    );
  }
}
