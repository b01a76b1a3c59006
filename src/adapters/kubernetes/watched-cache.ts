import type { WatchStarter } from './api-client.js';
import type { Logger } from '../../ports/logger.js';
import type { KubeObject } from '../kube-objects/object-shapes.js';
import { apiFailure } from './api-errors.js';

export type CacheEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface CacheEvent<T extends KubeObject> {
  readonly type: CacheEventType;
  readonly object: T;
  /** The object the cache held before this event (undefined for an add). */
  readonly previous?: T;
}

export interface ListResult<T extends KubeObject> {
  readonly items: T[];
  readonly resourceVersion: string;
}

export interface WatchedCacheOptions<T extends KubeObject> {
  /** Names the cached resource in logs, e.g. `secretproviderclasses`. */
  readonly resource: string;
  /** The collection path watched, e.g. `/api/v1/pods`. */
  readonly path: string;
  readonly watch: WatchStarter;
  /** Lists the collection with the same selectors (objects as JSON, as the API server sends them). */
  readonly list: () => Promise<ListResult<T>>;
  readonly fieldSelector?: string;
  readonly labelSelector?: string;
  readonly logger?: Logger;
  /** First retry delay after a failed list or watch; doubles per failure up to `maxRetryDelayMs`. */
  readonly retryDelayMs?: number;
  readonly maxRetryDelayMs?: number;
  /** The server ends each watch after this long (client-go picks 5-10 minutes at random). */
  readonly watchTimeoutSeconds?: () => number;
  /** What is kept of each object (e.g. metadata only); the rest is dropped as it arrives. Default: all of it. */
  readonly keep?: (object: T) => T;
}

/** A watch that ended within this time counts as a failure, so a flapping server is not hammered. */
const SHORT_WATCH_MS = 1000;

/**
 * A local copy of one collection kept current by list + watch, like client-go's reflector: lists once,
 * then watches from the list's resourceVersion; a dropped watch resumes from the last resourceVersion
 * seen (bookmarks keep it fresh); 410 Gone (history compacted) relists and reports the differences as
 * events. Failures retry with exponential backoff, forever, until `stop`. Listeners run after the
 * cache holds the change they are told about; a throwing listener is logged and does not stop others.
 */
export class WatchedCache<T extends KubeObject> {
  private objects = new Map<string, T>();
  private resourceVersion = '';
  private readonly listeners = new Set<(event: CacheEvent<T>) => void>();
  private stopped = true;
  private synced = false;
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private stopCurrentWatch: (() => void) | undefined;
  private readonly syncWaiters: (() => void)[] = [];

  constructor(private readonly options: WatchedCacheOptions<T>) {}

  /** Starts listing and watching in the background; returns at once. */
  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.cycle();
  }

  /** Stops watching and retrying; the cache keeps its last state. */
  stop(): void {
    this.stopped = true;
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.stopCurrentWatch?.();
    this.stopCurrentWatch = undefined;
    for (const resolve of this.syncWaiters.splice(0)) resolve();
  }

  /** True once the first list has been loaded. */
  hasSynced(): boolean {
    return this.synced;
  }

  /** Resolves after the first list has been loaded (or the cache was stopped). */
  whenSynced(): Promise<void> {
    if (this.synced || this.stopped) return Promise.resolve();
    return new Promise((resolve) => this.syncWaiters.push(resolve));
  }

  get(namespace: string, name: string): T | undefined {
    return this.objects.get(keyOf(namespace, name));
  }

  list(): T[] {
    return [...this.objects.values()];
  }

  /** The resourceVersion the cache is current with (what a resumed watch starts from). */
  lastResourceVersion(): string {
    return this.resourceVersion;
  }

  subscribe(listener: (event: CacheEvent<T>) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private async cycle(): Promise<void> {
    if (this.stopped) return;
    let delayMs = 0;
    try {
      if (this.resourceVersion === '') await this.relist();
      const started = Date.now();
      await this.watchOnce();
      if (Date.now() - started < SHORT_WATCH_MS) delayMs = this.nextDelay();
    } catch (error) {
      const failure = apiFailure(error);
      if (failure.code === 410) {
        this.options.logger?.debug('watch history expired, relisting', { resource: this.options.resource });
        this.resourceVersion = '';
      } else if (!this.stopped) {
        delayMs = this.nextDelay();
        this.options.logger?.warn('watching the API server failed, retrying', {
          resource: this.options.resource,
          error: failure.message,
          retryInMs: delayMs,
        });
      }
    }
    if (this.stopped) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      void this.cycle();
    }, delayMs);
    this.retryTimer.unref();
  }

  private nextDelay(): number {
    const base = this.options.retryDelayMs ?? 200;
    const max = this.options.maxRetryDelayMs ?? 30_000;
    const delay = Math.min(max, base * 2 ** Math.min(this.failures, 20));
    this.failures += 1;
    // Jitter spreads the retries of many nodes after an API server restart.
    return Math.round(delay * (0.5 + Math.random() / 2));
  }

  private async relist(): Promise<void> {
    const { items, resourceVersion } = await this.options.list();
    const previous = this.objects;
    const next = new Map(items.map((item) => [keyOf(item.metadata.namespace ?? '', item.metadata.name), this.kept(item)]));
    const events: CacheEvent<T>[] = [];
    for (const [key, object] of previous) if (!next.has(key)) events.push({ type: 'DELETED', object, previous: object });
    for (const [key, object] of next) {
      const before = previous.get(key);
      if (before === undefined) events.push({ type: 'ADDED', object });
      else if (before.metadata.resourceVersion !== object.metadata.resourceVersion) events.push({ type: 'MODIFIED', object, previous: before });
    }
    this.objects = next;
    this.resourceVersion = resourceVersion;
    this.failures = 0;
    if (!this.synced) {
      this.synced = true;
      for (const resolve of this.syncWaiters.splice(0)) resolve();
    }
    for (const event of events) this.notify(event);
  }

  /** One watch request from the current resourceVersion; settles when the server or `stop` ends it. */
  private watchOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let open = true;
      let abort: { abort(): void } | undefined;
      let failure: unknown;
      const finish = (error: unknown): void => {
        if (!open) return;
        open = false;
        abort?.abort();
        if (this.stopCurrentWatch === stop) this.stopCurrentWatch = undefined;
        const reason = failure ?? error;
        if (reason) reject(reason);
        else resolve();
      };
      const stop = (): void => finish(null);
      this.stopCurrentWatch = stop;
      const onEvent = (type: string, object: unknown): void => {
        if (!open) return;
        const status = this.apply(type, object);
        if (status !== undefined) {
          failure = status;
          finish(null);
        }
      };
      const params: Record<string, string | number | boolean> = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        timeoutSeconds: this.options.watchTimeoutSeconds?.() ?? 300 + Math.floor(Math.random() * 300),
      };
      if (this.options.fieldSelector) params['fieldSelector'] = this.options.fieldSelector;
      if (this.options.labelSelector) params['labelSelector'] = this.options.labelSelector;
      this.options.watch(this.options.path, params, onEvent, finish).then(
        (controller) => {
          abort = controller;
          if (!open) controller.abort();
        },
        (error: unknown) => finish(error),
      );
    });
  }

  /** Applies one watch event; returns an error for an ERROR event (410 Gone makes the next cycle relist). */
  private apply(type: string, raw: unknown): unknown {
    const object = type === 'ADDED' || type === 'MODIFIED' || type === 'DELETED' ? this.kept(raw as T) : (raw as T);
    const key = (): string => keyOf(object.metadata.namespace ?? '', object.metadata.name);
    let previous: T | undefined;
    switch (type) {
      case 'ADDED':
      case 'MODIFIED':
        previous = this.objects.get(key());
        this.objects.set(key(), object);
        break;
      case 'DELETED':
        previous = this.objects.get(key());
        this.objects.delete(key());
        break;
      case 'BOOKMARK':
        break;
      case 'ERROR': {
        const status = (raw ?? {}) as { code?: number; message?: string };
        return Object.assign(new Error(status.message ?? 'watch error'), { code: status.code });
      }
      default:
        return undefined;
    }
    this.failures = 0;
    const version = object.metadata?.resourceVersion;
    if (version) this.resourceVersion = version;
    if (type !== 'BOOKMARK') this.notify({ type: type as CacheEventType, object, ...(previous !== undefined ? { previous } : {}) });
    return undefined;
  }

  private kept(object: T): T {
    return this.options.keep === undefined ? object : this.options.keep(object);
  }

  private notify(event: CacheEvent<T>): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        this.options.logger?.error('a cache listener failed', {
          resource: this.options.resource,
          error: error instanceof Error ? error.message : String(error),
        });
      }
    }
  }
}

/** How a cache keys an object: `namespace/name`. */
export function keyOf(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}
