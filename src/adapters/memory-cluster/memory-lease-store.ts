import type { LeaseRecord } from '../../domain/leader-lease.js';
import type { LeaseStore, StoredLease } from '../../ports/lease-store.js';
import { toLeaseRecord, toLeaseResource } from '../kube-objects/lease-mapping.js';
import type { LeaseResource } from '../kube-objects/object-shapes.js';
import { isKubeApiError } from './cluster-errors.js';
import type { InMemoryCluster } from './cluster-store.js';

/** Leases of one namespace of the in-memory cluster. */
export class MemoryLeaseStore implements LeaseStore {
  constructor(
    private readonly cluster: InMemoryCluster,
    private readonly namespace: string,
  ) {}

  async get(name: string): Promise<StoredLease | undefined> {
    const object = this.cluster.get('Lease', this.namespace, name);
    return object === undefined ? undefined : stored(object);
  }

  async create(name: string, record: LeaseRecord): Promise<StoredLease | undefined> {
    try {
      return stored(this.cluster.create(toLeaseResource(this.namespace, name, record)));
    } catch (error) {
      if (isKubeApiError(error, 'AlreadyExists')) return undefined;
      throw error;
    }
  }

  async update(name: string, record: LeaseRecord, version: string): Promise<StoredLease | undefined> {
    try {
      return stored(this.cluster.update(toLeaseResource(this.namespace, name, record, version)));
    } catch (error) {
      if (isKubeApiError(error, 'Conflict') || isKubeApiError(error, 'NotFound')) return undefined;
      throw error;
    }
  }
}

function stored(object: LeaseResource): StoredLease {
  return { record: toLeaseRecord(object), version: object.metadata.resourceVersion ?? '' };
}
