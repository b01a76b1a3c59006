import type { OwnerReference } from '../../domain/owner-reference.js';
import { NODE_NAME_LABEL, type PodStatus, type StoredPodStatus } from '../../domain/pod-status.js';
import type { PodStatusStore } from '../../ports/pod-status-store.js';
import type { PodStatusResource } from '../kube-objects/object-shapes.js';
import { toPodStatusObject, toStoredPodStatus, withOwnedPodStatusFields } from '../kube-objects/pod-status-mapping.js';
import { apiError, isNotFound, isWriteRace } from './api-errors.js';
import { CSI_GROUP, CSI_VERSION, POD_STATUSES } from './custom-resources.js';
import type { KubernetesClient } from './kubernetes-client.js';

/** Write races (another writer created or changed the object first) are retried this many times. */
const MAX_SAVE_ATTEMPTS = 5;

export interface KubernetesPodStatusStoreOptions {
  readonly client: KubernetesClient;
}

/**
 * SecretProviderClassPodStatus objects through the API server, written the way upstream writes them:
 * created, or replaced with the resourceVersion just read (optimistic concurrency), and not written
 * at all when nothing the driver owns differs. API failures reject with an Internal DomainError.
 */
export class KubernetesPodStatusStore implements PodStatusStore {
  private readonly client: KubernetesClient;

  constructor(options: KubernetesPodStatusStoreOptions) {
    this.client = options.client;
  }

  async get(namespace: string, name: string): Promise<StoredPodStatus | undefined> {
    try {
      const object = await this.read(namespace, name);
      return object === undefined ? undefined : toStoredPodStatus(object);
    } catch (error) {
      throw apiError(`failed to get secretproviderclasspodstatus ${namespace}/${name}`, error);
    }
  }

  async save(status: PodStatus, owner: OwnerReference): Promise<StoredPodStatus> {
    const desired = toPodStatusObject(status, owner);
    for (let attempt = 1; ; attempt++) {
      try {
        return toStoredPodStatus(await this.saveOnce(desired));
      } catch (error) {
        if (!isWriteRace(error) || attempt >= MAX_SAVE_ATTEMPTS) {
          throw apiError(`failed to save secretproviderclasspodstatus ${status.namespace}/${status.name}`, error);
        }
      }
    }
  }

  async delete(namespace: string, name: string): Promise<void> {
    try {
      await this.client.customObjects.deleteNamespacedCustomObject({ ...this.resource(namespace), name });
    } catch (error) {
      if (!isNotFound(error)) throw apiError(`failed to delete secretproviderclasspodstatus ${namespace}/${name}`, error);
    }
  }

  async listByNode(nodeName: string): Promise<StoredPodStatus[]> {
    try {
      const list = (await this.client.customObjects.listClusterCustomObject({
        group: CSI_GROUP,
        version: CSI_VERSION,
        plural: POD_STATUSES,
        labelSelector: `${NODE_NAME_LABEL}=${nodeName}`,
      })) as { items?: PodStatusResource[] };
      return (list.items ?? []).map(toStoredPodStatus);
    } catch (error) {
      throw apiError(`failed to list secretproviderclasspodstatuses of node ${nodeName}`, error);
    }
  }

  /** Creates, or replaces from the version just read (a concurrent change makes the replace conflict). */
  private async saveOnce(desired: PodStatusResource): Promise<PodStatusResource> {
    const namespace = desired.metadata.namespace ?? 'default';
    const name = desired.metadata.name;
    const current = await this.read(namespace, name);
    if (current === undefined) {
      return (await this.client.customObjects.createNamespacedCustomObject({ ...this.resource(namespace), body: desired })) as PodStatusResource;
    }
    const next = withOwnedPodStatusFields(current, desired);
    if (ownedFieldsEqual(current, next)) return current;
    return (await this.client.customObjects.replaceNamespacedCustomObject({ ...this.resource(namespace), name, body: next })) as PodStatusResource;
  }

  /** The stored object, or undefined when there is none; other failures reject with the client's error. */
  private async read(namespace: string, name: string): Promise<PodStatusResource | undefined> {
    try {
      return (await this.client.customObjects.getNamespacedCustomObject({ ...this.resource(namespace), name })) as PodStatusResource;
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  private resource(namespace: string): { group: string; version: string; namespace: string; plural: string } {
    return { group: CSI_GROUP, version: CSI_VERSION, namespace, plural: POD_STATUSES };
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
