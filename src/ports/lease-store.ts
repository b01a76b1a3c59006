import type { LeaseRecord } from '../domain/leader-lease.js';

export interface StoredLease {
  readonly record: LeaseRecord;
  /** Opaque version of the stored lease (its resourceVersion): an update must name the version it replaces. */
  readonly version: string;
}

/**
 * coordination.k8s.io/v1 Leases in one namespace, for leader election.
 * Contract: `get` resolves undefined for a missing lease; `create` resolves undefined when the lease
 * exists already; `update` writes only over `version` and resolves undefined when the stored lease has
 * moved on (another writer came first). Other failures reject with a DomainError.
 */
export interface LeaseStore {
  get(name: string): Promise<StoredLease | undefined>;
  create(name: string, record: LeaseRecord): Promise<StoredLease | undefined>;
  update(name: string, record: LeaseRecord, version: string): Promise<StoredLease | undefined>;
}
export const LeaseStore = Symbol.for('LeaseStore');
