import type { Logger } from '../../ports/logger.js';
import type { PodInfo, PodSource } from '../../ports/pod-source.js';
import type { PodResource } from '../kube-objects/object-shapes.js';
import { MappedOnce } from '../kube-objects/mapped-once.js';
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
 * How long the first read waits for the first list of the node's pods; past it, reads go to the API server
 * (counted) until the list arrives, so a slow or failing API server never holds a publish for longer.
 */
const FIRST_LIST_WAIT_MS = 10_000;

/**
 * The pods of this node from a watch-backed cache filtered by `spec.nodeName` (never a cluster-wide
 * pod watch). The cache starts at the first read, not before: a node that never holds a volume never
 * lists its pods (a node agent runs on every node, most of which may host no secret volume), and the
 * first read waits for the first list. A pod the cache does not hold (scheduled a moment ago, or the
 * list still missing after FIRST_LIST_WAIT_MS) is read from the API server; a failed read rejects with
 * an Internal DomainError. `stop` on shutdown.
 */
export class KubernetesPodSource extends WatchedSource<PodResource> implements PodSource {
  private readonly client: KubernetesClient;
  private firstList: Promise<void> | undefined;
  /** Set by `stop`: a read after it (a check finishing during shutdown) must not start the cache again. */
  private stopped = false;
  /** Each cached pod mapped once and frozen: every check reads it. */
  private readonly mapped = new MappedOnce<PodResource, PodInfo>(toPodInfo);

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
    if (!this.cache.hasSynced()) await this.listed();
    const cached = this.cache.get(namespace, name);
    if (cached !== undefined) return this.mapped.of(cached);
    try {
      return toPodInfo(await this.client.read<PodResource>('pods', apiPaths.pod(namespace, name)));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw apiError(`failed to get pod ${namespace}/${name}`, error);
    }
  }

  override stop(): void {
    this.stopped = true;
    super.stop();
  }

  /** Starts the cache on the first call; resolves once it holds its first list, or FIRST_LIST_WAIT_MS later. */
  private listed(): Promise<void> {
    this.firstList ??= new Promise<void>((resolve) => {
      if (!this.stopped) this.start();
      const timer = setTimeout(resolve, FIRST_LIST_WAIT_MS);
      timer.unref();
      void this.cache.whenSynced().then(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    return this.firstList;
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
