import type { LeaseRecord } from '../../domain/leader-lease.js';
import type { LeaseStore, StoredLease } from '../../ports/lease-store.js';
import { toLeaseRecord, toLeaseResource } from '../kube-objects/lease-mapping.js';
import type { LeaseResource } from '../kube-objects/object-shapes.js';
import { apiError, apiFailure } from './api-errors.js';
import { apiPaths, type KubernetesClient } from './kubernetes-client.js';

export interface KubernetesLeaseStoreOptions {
  readonly client: KubernetesClient;
  readonly namespace: string;
}

/** Leases of one namespace through the API server; an update is a merge patch carrying the resourceVersion read (409 = someone else wrote). */
export class KubernetesLeaseStore implements LeaseStore {
  constructor(private readonly options: KubernetesLeaseStoreOptions) {}

  async get(name: string): Promise<StoredLease | undefined> {
    const { namespace } = this.options;
    try {
      return stored(await this.options.client.api.get<LeaseResource>(apiPaths.lease(namespace, name)));
    } catch (error) {
      if (apiFailure(error).code === 404) return undefined;
      throw apiError(`failed to get lease ${namespace}/${name}`, error);
    }
  }

  async create(name: string, record: LeaseRecord): Promise<StoredLease | undefined> {
    const { namespace } = this.options;
    try {
      return stored(await this.options.client.api.create<LeaseResource>(apiPaths.leases(namespace), toLeaseResource(namespace, name, record)));
    } catch (error) {
      if (apiFailure(error).code === 409) return undefined;
      throw apiError(`failed to create lease ${namespace}/${name}`, error);
    }
  }

  async update(name: string, record: LeaseRecord, version: string): Promise<StoredLease | undefined> {
    const { namespace } = this.options;
    try {
      // A merge patch, not a replace: the API server would create a missing Lease on replace.
      const { metadata, spec } = toLeaseResource(namespace, name, record, version);
      return stored(await this.options.client.api.mergePatch<LeaseResource>(apiPaths.lease(namespace, name), { metadata: { resourceVersion: metadata.resourceVersion }, spec }));
    } catch (error) {
      const { code } = apiFailure(error);
      if (code === 409 || code === 404) return undefined;
      throw apiError(`failed to update lease ${namespace}/${name}`, error);
    }
  }
}

function stored(lease: LeaseResource): StoredLease {
  return { record: toLeaseRecord(lease), version: lease.metadata.resourceVersion ?? '' };
}
