import type { Logger } from '../../ports/logger.js';
import type { PodInfo, PodSource } from '../../ports/pod-source.js';
import type { PodResource } from '../kube-objects/object-shapes.js';
import { toPodInfo } from '../kube-objects/pod-mapping.js';
import { apiError, isNotFound } from './api-errors.js';
import { toJson } from './custom-resources.js';
import type { KubernetesClient } from './kubernetes-client.js';
import { WatchedCache } from './watched-cache.js';

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
export class KubernetesPodSource implements PodSource {
  private readonly cache: WatchedCache<PodResource>;
  private readonly client: KubernetesClient;

  constructor(options: KubernetesPodSourceOptions) {
    this.client = options.client;
    const fieldSelector = `spec.nodeName=${options.nodeName}`;
    this.cache = new WatchedCache<PodResource>({
      resource: 'pods',
      path: '/api/v1/pods',
      watch: options.client.watch,
      fieldSelector,
      list: async () => {
        const list = await this.client.core.listPodForAllNamespaces({ fieldSelector });
        return { items: toJson<PodResource[]>(list.items), resourceVersion: list.metadata?.resourceVersion ?? '' };
      },
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    });
  }

  start(): void {
    this.cache.start();
  }

  stop(): void {
    this.cache.stop();
  }

  whenSynced(): Promise<void> {
    return this.cache.whenSynced();
  }

  /** The resourceVersion of the cached pod, or undefined when the cache does not hold it. */
  cachedResourceVersion(namespace: string, name: string): string | undefined {
    return this.cache.get(namespace, name)?.metadata.resourceVersion;
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
