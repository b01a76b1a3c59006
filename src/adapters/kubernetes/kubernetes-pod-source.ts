import type { Logger } from '../../ports/logger.js';
import type { PodInfo, PodSource } from '../../ports/pod-source.js';
import type { PodResource } from '../kube-objects/object-shapes.js';
import { toPodInfo } from '../kube-objects/pod-mapping.js';
import { apiError, isNotFound } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';
import { slimPod } from './slim-objects.js';
import type { WatchedCacheOptions } from './watched-cache.js';
import { listOf, WatchedSource } from './watched-source.js';

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
    super(nodePodsCacheOptions({ ...options, keep: slimPod }));
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
      return toPodInfo(await this.client.read<PodResource>('pods', apiPaths.pod(namespace, name)));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw apiError(`failed to get pod ${namespace}/${name}`, error);
    }
  }
}

/** A watched cache of the pods bound to one node (field selector spec.nodeName); `onList` counts the lists. */
export function nodePodsCacheOptions(
  options: KubernetesPodSourceOptions & { readonly maxRetryDelayMs?: number; readonly onList?: () => void; readonly keep?: (pod: PodResource) => PodResource },
): WatchedCacheOptions<PodResource> {
  const fieldSelector = `spec.nodeName=${options.nodeName}`;
  return {
    resource: 'pods',
    path: apiPaths.pods,
    watch: options.client.watch,
    fieldSelector,
    list: async () => {
      const list = await listOf<PodResource>(options.client, apiPaths.pods, { fieldSelector }, options.keep);
      options.onList?.();
      return list;
    },
    ...(options.keep ? { keep: options.keep } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
    ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    ...(options.maxRetryDelayMs !== undefined ? { maxRetryDelayMs: options.maxRetryDelayMs } : {}),
  };
}
