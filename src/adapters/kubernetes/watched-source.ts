import type { KubeObject } from '../kube-objects/object-shapes.js';
import { WatchedCache, type WatchedCacheOptions } from './watched-cache.js';

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
