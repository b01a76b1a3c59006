import type { Logger } from '../../ports/logger.js';
import type { PodInfo, PodSource } from '../../ports/pod-source.js';
import type { PodResource } from '../kube-objects/object-shapes.js';
import { toPodInfo } from '../kube-objects/pod-mapping.js';
import { apiError, isNotFound } from './api-errors.js';
import { toJson } from './custom-resources.js';
import type { KubernetesClient } from './kubernetes-client.js';
import type { WatchedCacheOptions } from './watched-cache.js';
import { WatchedSource } from './watched-source.js';

export interface KubernetesPodSourceOptions {
  readonly client: KubernetesClient;
  /** Only pods bound to this node are cached (field selector spec.nodeName). */
  readonly nodeName: string;
  readonly logger?: Logger;
  readonly retryDelayMs?: number;
}

/**
 * The pods of this node from a watch-backed cache filtered by `spec.nodeName` (never a cluster-wide
 * pod watch). A pod the cache does not hold (not loaded yet, or scheduled a moment ago) is read from
 * the API server; a failed read rejects with an Internal DomainError. Call `start` once, `stop` on
 * shutdown.
 */
export class KubernetesPodSource extends WatchedSource<PodResource> implements PodSource {
  private readonly client: KubernetesClient;

  constructor(options: KubernetesPodSourceOptions) {
    super(nodePodsCacheOptions(options));
    this.client = options.client;
  }

  onChange(listener: (pod: PodInfo) => void): () => void {
    return this.cache.subscribe(({ type, object }) => {
      if (type !== 'DELETED') listener(toPodInfo(object));
    });
  }

  async get(namespace: string, name: string): Promise<PodInfo | undefined> {
    const cached = this.cache.get(namespace, name);
    if (cached !== undefined) return toPodInfo(cached);
    try {
      return toPodInfo(toJson<PodResource>(await this.client.core.readNamespacedPod({ namespace, name })));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw apiError(`failed to get pod ${namespace}/${name}`, error);
    }
  }
}

/** A watched cache of the pods bound to one node (field selector spec.nodeName); `onList` counts the lists. */
export function nodePodsCacheOptions(
  options: KubernetesPodSourceOptions & { readonly maxRetryDelayMs?: number; readonly onList?: () => void },
): WatchedCacheOptions<PodResource> {
  const fieldSelector = `spec.nodeName=${options.nodeName}`;
  return {
    resource: 'pods',
    path: '/api/v1/pods',
    watch: options.client.watch,
    fieldSelector,
    list: async () => {
      const list = await options.client.core.listPodForAllNamespaces({ fieldSelector });
      options.onList?.();
      return { items: toJson<PodResource[]>(list.items), resourceVersion: list.metadata?.resourceVersion ?? '' };
    },
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    ...(options.maxRetryDelayMs !== undefined ? { maxRetryDelayMs: options.maxRetryDelayMs } : {}),
  };
}
