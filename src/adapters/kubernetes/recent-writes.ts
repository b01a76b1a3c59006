import type { KubeObject } from '../kube-objects/object-shapes.js';
import { keyOf, type WatchedCache } from './watched-cache.js';

/**
 * What an adapter wrote through the API server and its watch has not delivered yet, so a read right
 * after a write sees the write (the API server's answer to it) rather than the cache's older copy.
 * An entry goes when the watch delivers that version or a later one, or the object's deletion.
 */
export class RecentWrites<T extends KubeObject> {
  private readonly objects = new Map<string, T>();

  constructor(private readonly cache: WatchedCache<T>) {
    cache.subscribe(({ type, object }) => {
      const key = keyOf(object.metadata.namespace ?? '', object.metadata.name);
      const written = this.objects.get(key);
      if (written !== undefined && (type === 'DELETED' || !isOlder(object.metadata.resourceVersion, written.metadata.resourceVersion))) {
        this.objects.delete(key);
      }
    });
  }

  /** The newest copy there is: the last write when the watch has not caught up with it, else the cache's. */
  get(namespace: string, name: string): T | undefined {
    return this.objects.get(keyOf(namespace, name)) ?? this.cache.get(namespace, name);
  }

  /** This process's writes not delivered yet, by namespace/name. */
  pending(): IterableIterator<[string, T]> {
    return this.objects.entries();
  }

  /** Keeps the API server's answer to a write, unless the cache already holds that version or a later one. */
  remember(object: T): void {
    const { namespace = '', name, resourceVersion } = object.metadata;
    const cached = this.cache.get(namespace, name);
    if (cached !== undefined && !isOlder(cached.metadata.resourceVersion, resourceVersion)) return;
    this.objects.set(keyOf(namespace, name), object);
  }
}

/**
 * Whether resourceVersion `a` is older than `b`. They are opaque to clients, but the API server backed
 * by etcd hands out increasing integers; anything else is never called older, so the watch's copy wins.
 */
function isOlder(a: string | undefined, b: string | undefined): boolean {
  if (a === undefined || b === undefined || !/^\d+$/.test(a) || !/^\d+$/.test(b)) return false;
  return a.length !== b.length ? a.length < b.length : a < b;
}
