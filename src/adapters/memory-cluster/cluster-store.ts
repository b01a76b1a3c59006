import { randomUUID } from 'node:crypto';
import { compareStrings } from '../../domain/object-versions.js';
import type { Clock } from '../../ports/clock.js';
import {
  GENERATION_KINDS,
  KNOWN_KINDS,
  toKubeTime,
  type KindMap,
  type KnownKind,
  type KubeObject,
  type OwnerReferenceShape,
} from '../kube-objects/object-shapes.js';
import { KubeApiError } from './cluster-errors.js';
import { applyMergePatch, isJsonObject, jsonCopy, jsonEqual, type JsonObject, type JsonValue } from './json.js';
import { applyCreateDefaults, assertImmutableFields, normalizeObject } from './object-validation.js';

export type WatchEventType = 'ADDED' | 'MODIFIED' | 'DELETED';

export interface WatchEvent<T extends KubeObject = KubeObject> {
  readonly type: WatchEventType;
  readonly object: T;
}

export type WatchListener<T extends KubeObject = KubeObject> = (event: WatchEvent<T>) => void;

export interface ListOptions {
  readonly namespace?: string;
  /** Equality-based label selector: every pair must match. */
  readonly labels?: Readonly<Record<string, string>>;
}

export interface WriteAttempt {
  readonly verb: 'create' | 'update' | 'patch' | 'delete';
  readonly kind: string;
  readonly namespace: string;
  readonly name: string;
}

/** Returns an error to make the write fail (fault injection), or undefined to let it through. */
export type WriteInterceptor = (attempt: WriteAttempt) => Error | undefined;

export interface InMemoryClusterOptions {
  readonly clock?: Clock;
  readonly newUid?: () => string;
  /** Where an exception thrown by a watch listener goes (default: a process warning). */
  readonly onListenerError?: (error: unknown) => void;
}

interface Subscription {
  readonly listener: WatchListener;
  /** A watch sees only changes committed after it started, like a watch from the current resourceVersion. */
  readonly sinceRevision: number;
  active: boolean;
}

interface PendingEvent {
  readonly kind: KnownKind;
  readonly revision: number;
  readonly event: WatchEvent;
}

/**
 * An in-memory Kubernetes API server for the kinds the driver touches. It behaves like the real one
 * wherever the driver can notice: server-assigned uid, creationTimestamp and a global increasing
 * resourceVersion; generation bumps when the spec of a class, workload or ReplicaSet changes; AlreadyExists, Conflict
 * (stale resourceVersion), NotFound and Invalid errors; JSON merge patch; no-op writes change nothing;
 * per-kind watches delivered asynchronously (microtasks) in commit order; and owner-reference garbage
 * collection after each delete. Every object handed out is a deep copy.
 * Graceful deletion is not modelled: set metadata.deletionTimestamp to show a terminating pod.
 */
export class InMemoryCluster {
  private readonly objects = new Map<KnownKind, Map<string, KubeObject>>(KNOWN_KINDS.map((kind) => [kind, new Map()]));
  private readonly subscriptions = new Map<KnownKind, Set<Subscription>>(KNOWN_KINDS.map((kind) => [kind, new Set()]));
  private readonly interceptors = new Set<WriteInterceptor>();
  private readonly pending: PendingEvent[] = [];
  private idleWaiters: (() => void)[] = [];
  private readonly deliveryListeners = new Set<() => void>();
  private drainScheduled = false;
  private revision = 0;
  /** Uids of every object deleted so far: the owners the garbage collector counts as gone. */
  private readonly deletedUids = new Set<string>();
  private readonly clock: Clock;
  private readonly newUid: () => string;
  private readonly onListenerError: (error: unknown) => void;

  constructor(options: InMemoryClusterOptions = {}) {
    this.clock = options.clock ?? { now: () => Date.now() };
    this.newUid = options.newUid ?? randomUUID;
    this.onListenerError = options.onListenerError ?? ((error) => process.emitWarning(error instanceof Error ? error : String(error)));
  }

  get<K extends KnownKind>(kind: K, namespace: string, name: string): KindMap[K] | undefined {
    return this.read(kind, namespace, name, (found) => jsonCopy(found) as KindMap[K]);
  }

  /**
   * Maps the stored object without copying it first (the read path of the driver's adapters, once per
   * rotation check): `project` must copy whatever it keeps and never change the object.
   */
  read<K extends KnownKind, T>(kind: K, namespace: string, name: string, project: (stored: Readonly<KindMap[K]>) => T): T | undefined {
    const found = this.bucket(kind).get(objectKey(namespace, name));
    return found === undefined ? undefined : project(found as KindMap[K]);
  }

  /** Objects of a kind sorted by namespace and name, optionally filtered. */
  list<K extends KnownKind>(kind: K, options: ListOptions = {}): KindMap[K][] {
    const selector = Object.entries(options.labels ?? {});
    return [...this.bucket(kind).values()]
      .filter((object) => options.namespace === undefined || object.metadata.namespace === options.namespace)
      .filter((object) => selector.every(([key, value]) => object.metadata.labels?.[key] === value))
      .sort(byNamespaceAndName)
      .map((object) => jsonCopy(object) as KindMap[K]);
  }

  create<T extends KubeObject>(input: T): T {
    const object = normalizeObject(input);
    const { namespace = 'default', name } = object.metadata;
    this.intercept('create', object.kind, namespace, name);
    const kind = object.kind as KnownKind;
    if (this.bucket(kind).has(objectKey(namespace, name))) {
      throw new KubeApiError('AlreadyExists', `${kind} "${name}" already exists in namespace "${namespace}"`);
    }
    if (object.metadata.resourceVersion) {
      throw new KubeApiError('Invalid', `${kind} "${name}": resourceVersion should not be set on objects to be created`);
    }
    applyCreateDefaults(object);
    // Unlike the API server, a Pod keeps a uid it was created with: in the memory profile kubelet's
    // pods live outside this store, and a manifest can name the uid kubelet sends.
    object.metadata.uid = kind === 'Pod' && object.metadata.uid ? object.metadata.uid : this.newUid();
    object.metadata.creationTimestamp = toKubeTime(this.clock.now());
    if (GENERATION_KINDS.includes(kind)) object.metadata.generation = 1;
    return this.store(kind, object, 'ADDED') as T;
  }

  /** Replaces an object; a given resourceVersion must be the current one (optimistic concurrency). */
  update<T extends KubeObject>(input: T): T {
    const object = normalizeObject(input);
    const existing = this.existing(object.kind as KnownKind, object.metadata.namespace!, object.metadata.name, 'update');
    const given = object.metadata.resourceVersion;
    if (given && given !== existing.metadata.resourceVersion) throw conflict(existing);
    return this.commitChange(existing, object) as T;
  }

  /** Applies an RFC 7386 merge patch; a resourceVersion inside the patch acts as a precondition. */
  patch<K extends KnownKind>(kind: K, namespace: string, name: string, patch: JsonObject): KindMap[K] {
    const existing = this.existing(kind, namespace, name, 'patch');
    const precondition = isJsonObject(patch['metadata']) ? patch['metadata']['resourceVersion'] : undefined;
    if (typeof precondition === 'string' && precondition !== existing.metadata.resourceVersion) throw conflict(existing);
    const patched = applyMergePatch(existing as unknown as JsonValue, patch) as unknown as KubeObject;
    // Identity fields are not patchable: the request URL names the object.
    patched.kind = existing.kind;
    patched.metadata = { ...patched.metadata, name, namespace };
    return this.commitChange(existing, normalizeObject(patched)) as KindMap[K];
  }

  /** Deletes an object, then garbage-collects every object whose owners have all been deleted. */
  delete(kind: KnownKind, namespace: string, name: string): void {
    const existing = this.existing(kind, namespace, name, 'delete');
    this.remove(kind, namespace, name);
    this.deletedUids.add(existing.metadata.uid!);
    this.collectGarbage();
  }

  /** Calls `listener` for each later change of the kind, after the change is readable. Returns unsubscribe. */
  watch<K extends KnownKind>(kind: K, listener: WatchListener<KindMap[K]>): () => void {
    const subscription: Subscription = { listener: listener as WatchListener, sinceRevision: this.revision, active: true };
    const subscriptions = this.subscriptions.get(kind)!;
    subscriptions.add(subscription);
    return () => {
      subscription.active = false;
      subscriptions.delete(subscription);
    };
  }

  /**
   * Calls `listener` synchronously each time every watch event committed so far has been delivered (once
   * per burst of changes), before the code that made the changes resumes after its next await. Returns
   * unsubscribe.
   */
  afterDelivery(listener: () => void): () => void {
    this.deliveryListeners.add(listener);
    return () => this.deliveryListeners.delete(listener);
  }

  /** Makes matching writes fail until the returned function is called (tests and fault drills). */
  interceptWrites(interceptor: WriteInterceptor): () => void {
    this.interceptors.add(interceptor);
    return () => this.interceptors.delete(interceptor);
  }

  /** Resolves once every watch event committed so far has been delivered. */
  whenIdle(): Promise<void> {
    if (this.pending.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private reportListenerError(error: unknown): void {
    try {
      this.onListenerError(error);
    } catch {
      // A failing error handler must not stall the delivery of later events.
    }
  }

  private bucket(kind: KnownKind): Map<string, KubeObject> {
    const bucket = this.objects.get(kind);
    if (bucket === undefined) throw new KubeApiError('NotFound', `the server could not find the requested resource kind "${String(kind)}"`);
    return bucket;
  }

  private existing(kind: KnownKind, namespace: string, name: string, verb: WriteAttempt['verb']): KubeObject {
    this.intercept(verb, kind, namespace, name);
    const found = this.bucket(kind).get(objectKey(namespace, name));
    if (found === undefined) throw new KubeApiError('NotFound', `${kind} "${name}" not found in namespace "${namespace}"`);
    return found;
  }

  private intercept(verb: WriteAttempt['verb'], kind: string, namespace: string, name: string): void {
    for (const interceptor of this.interceptors) {
      const error = interceptor({ verb, kind, namespace, name });
      if (error) throw error;
    }
  }

  /** Keeps server-owned fields, bumps generation on a spec change, and skips writes that change nothing. */
  private commitChange(existing: KubeObject, next: KubeObject): KubeObject {
    const kind = existing.kind as KnownKind;
    assertImmutableFields(existing, next);
    next.metadata.uid = existing.metadata.uid;
    next.metadata.creationTimestamp = existing.metadata.creationTimestamp;
    next.metadata.resourceVersion = existing.metadata.resourceVersion;
    if (GENERATION_KINDS.includes(kind)) {
      const specOf = (object: KubeObject): unknown => (object as KubeObject & { spec?: unknown }).spec;
      next.metadata.generation = (existing.metadata.generation ?? 1) + (jsonEqual(specOf(existing), specOf(next)) ? 0 : 1);
    }
    if (jsonEqual(existing, next)) return jsonCopy(existing);
    return this.store(kind, next, 'MODIFIED');
  }

  private store(kind: KnownKind, object: KubeObject, type: WatchEventType): KubeObject {
    this.revision += 1;
    object.metadata.resourceVersion = String(this.revision);
    this.bucket(kind).set(objectKey(object.metadata.namespace!, object.metadata.name), object);
    this.enqueue(kind, { type, object });
    return jsonCopy(object);
  }

  private remove(kind: KnownKind, namespace: string, name: string): void {
    const bucket = this.bucket(kind);
    const object = bucket.get(objectKey(namespace, name))!;
    bucket.delete(objectKey(namespace, name));
    this.revision += 1;
    object.metadata.resourceVersion = String(this.revision);
    this.enqueue(kind, { type: 'DELETED', object });
  }

  /**
   * Like kube-controller-manager's garbage collector: objects whose owners are all gone go too,
   * transitively. Unlike it, an owner counts as gone only once it was deleted here: an owner this
   * store never held (a ReplicaSet, or a pod that only kubelet knows in the memory profile) counts as
   * present, since its absence cannot be known here.
   */
  private collectGarbage(): void {
    for (;;) {
      const gone = (owner: OwnerReferenceShape): boolean => this.deletedUids.has(owner.uid);
      const orphans: KubeObject[] = [];
      for (const bucket of this.objects.values()) {
        for (const object of bucket.values()) {
          const owners = object.metadata.ownerReferences ?? [];
          if (owners.length > 0 && owners.every(gone)) orphans.push(object);
        }
      }
      if (orphans.length === 0) return;
      for (const orphan of orphans) {
        this.remove(orphan.kind as KnownKind, orphan.metadata.namespace!, orphan.metadata.name);
        this.deletedUids.add(orphan.metadata.uid!);
      }
    }
  }

  private enqueue(kind: KnownKind, event: WatchEvent): void {
    this.pending.push({ kind, revision: this.revision, event: { type: event.type, object: jsonCopy(event.object) } });
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    queueMicrotask(() => this.drain());
  }

  /** Delivers queued events one at a time, so events caused by a listener come after the current one. */
  private drain(): void {
    while (this.pending.length > 0) {
      const { kind, revision, event } = this.pending.shift()!;
      for (const subscription of [...this.subscriptions.get(kind)!]) {
        if (!subscription.active || revision <= subscription.sinceRevision) continue;
        try {
          subscription.listener({ type: event.type, object: jsonCopy(event.object) });
        } catch (error) {
          this.reportListenerError(error);
        }
      }
    }
    this.drainScheduled = false;
    for (const listener of [...this.deliveryListeners]) {
      try {
        listener();
      } catch (error) {
        this.reportListenerError(error);
      }
    }
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function objectKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function byNamespaceAndName(a: KubeObject, b: KubeObject): number {
  return compareStrings(a.metadata.namespace ?? '', b.metadata.namespace ?? '') || compareStrings(a.metadata.name, b.metadata.name);
}

function conflict(existing: KubeObject): KubeApiError {
  return new KubeApiError(
    'Conflict',
    `Operation cannot be fulfilled on ${existing.kind} "${existing.metadata.name}": the object has been modified; please apply your changes to the latest version and try again`,
  );
}
