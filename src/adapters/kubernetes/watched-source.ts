import type { KubeObject } from '../kube-objects/object-shapes.js';
import type { Query } from './api-client.js';
import type { KubernetesClient } from './kubernetes-client.js';
import { WatchedCache, type ListResult, type WatchedCacheOptions } from './watched-cache.js';

/** Lists a collection for a cache: its items and the resourceVersion to watch from. */
export async function listOf<T extends KubeObject>(client: KubernetesClient, path: string, query: Query): Promise<ListResult<T>> {
  const list = await client.api.get<{ items?: T[] | null; metadata?: { resourceVersion?: string } }>(path, query);
  return { items: list.items ?? [], resourceVersion: list.metadata?.resourceVersion ?? '' };
}

/**
 * What the cache-backed adapters share: the lifecycle of their WatchedCache (`start` once, `stop` on
 * shutdown), readiness, and the cached resourceVersion the contract fixtures wait for.
 */
export abstract class WatchedSource<T extends KubeObject> {
  protected readonly cache: WatchedCache<T>;

  protected constructor(options: WatchedCacheOptions<T>) {
    this.cache = new WatchedCache<T>(options);
  }

  start(): void {
    this.cache.start();
  }

  stop(): void {
    this.cache.stop();
  }

  /** Resolves once the cache has loaded (tests and readiness). */
  whenSynced(): Promise<void> {
    return this.cache.whenSynced();
  }

  /** The resourceVersion of the cached object, or undefined when the cache does not hold it. */
  cachedResourceVersion(namespace: string, name: string): string | undefined {
    return this.cache.get(namespace, name)?.metadata.resourceVersion;
  }
}
