import type { OwnerReference } from '../../domain/owner-reference.js';
import { NODE_NAME_LABEL, type PodStatus, type StoredPodStatus } from '../../domain/pod-status.js';
import type { Logger } from '../../ports/logger.js';
import type { PodStatusStore } from '../../ports/pod-status-store.js';
import type { PodStatusResource } from '../kube-objects/object-shapes.js';
import { toPodStatusObject, toStoredPodStatus, withOwnedPodStatusFields } from '../kube-objects/pod-status-mapping.js';
import { apiError, isNotFound, isWriteRace } from './api-errors.js';
import { csiCollection, csiObject, POD_STATUSES } from './custom-resources.js';
import type { KubernetesClient } from './kubernetes-client.js';
import { RecentWrites } from './recent-writes.js';
import { slimObject } from './slim-objects.js';
import { keyOf } from './watched-cache.js';
import { listOf, WatchedSource } from './watched-source.js';

/** Write races (another writer created or changed the object first) are retried this many times. */
const MAX_SAVE_ATTEMPTS = 5;

export interface KubernetesPodStatusStoreOptions {
  readonly client: KubernetesClient;
  /** The records labelled with this node are cached (label `internal.secrets-store.csi.k8s.io/node-name`). */
  readonly nodeName: string;
  readonly logger?: Logger;
  readonly retryDelayMs?: number;
}

/**
 * SecretProviderClassPodStatus objects through the API server, written the way upstream writes them:
 * created first (a new mount reads nothing), and when the object exists, replaced from the version
 * known (optimistic concurrency; a conflict reads the object once and tries again), not written at all
 * when nothing the driver owns differs. This node's records are read from a watch-backed cache
 * (label selector) together with the objects this store wrote that the watch has not delivered yet;
 * anything else is read from the API server. API failures reject with an Internal DomainError. Call
 * `start` once, `stop` on shutdown.
 */
export class KubernetesPodStatusStore extends WatchedSource<PodStatusResource> implements PodStatusStore {
  private readonly client: KubernetesClient;
  private readonly nodeName: string;
  /** This node's objects this store wrote that the watch has not delivered yet. */
  private readonly written: RecentWrites<PodStatusResource>;

  constructor(options: KubernetesPodStatusStoreOptions) {
    const labelSelector = `${NODE_NAME_LABEL}=${options.nodeName}`;
    super({
      resource: POD_STATUSES,
      path: csiCollection(POD_STATUSES),
      watch: options.client.watch,
      labelSelector,
      keep: slimObject,
      list: () => listOf<PodStatusResource>(options.client, csiCollection(POD_STATUSES), { labelSelector }, slimObject),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.retryDelayMs !== undefined ? { retryDelayMs: options.retryDelayMs } : {}),
    });
    this.client = options.client;
    this.nodeName = options.nodeName;
    this.written = new RecentWrites(this.cache);
  }

  async get(namespace: string, name: string): Promise<StoredPodStatus | undefined> {
    try {
      const object = this.known(namespace, name) ?? (await this.read(namespace, name));
      return object === undefined ? undefined : toStoredPodStatus(object);
    } catch (error) {
      throw apiError(`failed to get secretproviderclasspodstatus ${namespace}/${name}`, error);
    }
  }

  async save(status: PodStatus, owner: OwnerReference): Promise<StoredPodStatus> {
    const desired = toPodStatusObject(status, owner);
    let current = this.known(status.namespace, status.name);
    for (let attempt = 1; ; attempt++) {
      try {
        const saved = await this.saveOnce(desired, current);
        if (saved !== current) this.remember(saved);
        return toStoredPodStatus(saved);
      } catch (error) {
        // 409: created or changed by someone else since; 404 on a replace: deleted since.
        const stale = isWriteRace(error) || (current !== undefined && isNotFound(error));
        if (!stale || attempt >= MAX_SAVE_ATTEMPTS) {
          throw apiError(`failed to save secretproviderclasspodstatus ${status.namespace}/${status.name}`, error);
        }
        try {
          current = await this.read(status.namespace, status.name);
        } catch (readError) {
          throw apiError(`failed to save secretproviderclasspodstatus ${status.namespace}/${status.name}`, readError);
        }
      }
    }
  }

  async listByNode(nodeName: string): Promise<StoredPodStatus[]> {
    if (nodeName === this.nodeName && this.cache.hasSynced()) {
      const objects = new Map(this.cache.list().map((object) => [keyOf(object.metadata.namespace ?? '', object.metadata.name), object]));
      for (const [key, object] of this.written.pending()) objects.set(key, object);
      return [...objects.values()].map(toStoredPodStatus);
    }
    try {
      const { items } = await listOf<PodStatusResource>(this.client, csiCollection(POD_STATUSES), { labelSelector: `${NODE_NAME_LABEL}=${nodeName}` });
      return items.map(toStoredPodStatus);
    } catch (error) {
      throw apiError(`failed to list secretproviderclasspodstatuses of node ${nodeName}`, error);
    }
  }

  /**
   * Creates when nothing is known of the object; replaces from the known version when a field the
   * driver owns differs. A stale or missing copy makes the API server answer 409 (or 404), and the caller reads.
   */
  private async saveOnce(desired: PodStatusResource, current: PodStatusResource | undefined): Promise<PodStatusResource> {
    const namespace = desired.metadata.namespace ?? 'default';
    if (current === undefined) {
      return this.client.api.create<PodStatusResource>(csiCollection(POD_STATUSES, namespace), desired);
    }
    const next = withOwnedPodStatusFields(current, desired);
    if (ownedFieldsEqual(current, next)) return current;
    return this.client.api.replace<PodStatusResource>(csiObject(POD_STATUSES, namespace, desired.metadata.name), next);
  }

  /** The newest copy this process has: its own last write, else the cache's. */
  private known(namespace: string, name: string): PodStatusResource | undefined {
    return this.written.get(namespace, name);
  }

  /** Only this node's records: the watch delivers those, which ends their stay among the recent writes. */
  private remember(object: PodStatusResource): void {
    if (object.metadata.labels?.[NODE_NAME_LABEL] === this.nodeName) this.written.remember(slimObject(object));
  }

  /** The stored object from the API server (counted as a direct read), or undefined when there is none. */
  private async read(namespace: string, name: string): Promise<PodStatusResource | undefined> {
    try {
      return await this.client.read<PodStatusResource>(POD_STATUSES, csiObject(POD_STATUSES, namespace, name));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }
}

/** The fields save writes: labels, owner references and status (the server owns the rest of metadata). */
function ownedFieldsEqual(a: PodStatusResource, b: PodStatusResource): boolean {
  return (
    canonical(a.metadata.labels ?? {}) === canonical(b.metadata.labels ?? {}) &&
    canonical(a.metadata.ownerReferences ?? []) === canonical(b.metadata.ownerReferences ?? []) &&
    canonical(a.status ?? {}) === canonical(b.status ?? {})
  );
}

/** JSON text with object keys sorted, so equal values compare equal whatever their key order. */
function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, item: unknown) =>
    typeof item === 'object' && item !== null && !Array.isArray(item)
      ? Object.fromEntries(Object.entries(item as Record<string, unknown>).sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)))
      : item,
  );
}
