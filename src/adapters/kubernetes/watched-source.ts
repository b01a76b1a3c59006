import type { KubeObject } from '../kube-objects/object-shapes.js';
import type { Query } from './api-client.js';
import type { KubernetesClient } from './kubernetes-client.js';
import { WatchedCache, type ListResult, type WatchedCacheOptions } from './watched-cache.js';

/** Objects per page of a list: a node's pods arrive a page at a time, not as one response of many megabytes. */
const LIST_PAGE_SIZE = 500;

/**
 * Lists a collection for a cache, page by page (each page consistent with the first), keeping only
 * what `keep` keeps of each object: its items and the resourceVersion to watch from.
 */
export async function listOf<T extends KubeObject>(client: KubernetesClient, path: string, query: Query, keep: (object: T) => T = (object) => object): Promise<ListResult<T>> {
  const items: T[] = [];
  let resourceVersion = '';
  let next: string | undefined;
  do {
    const page = await client.api.get<{ items?: T[] | null; metadata?: { resourceVersion?: string; continue?: string } }>(path, {
      ...query,
      limit: LIST_PAGE_SIZE,
      continue: next,
    });
    for (const item of page.items ?? []) items.push(keep(item));
    resourceVersion = page.metadata?.resourceVersion ?? resourceVersion;
    next = page.metadata?.continue || undefined;
  } while (next !== undefined);
  return { items, resourceVersion };
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
