import type { LeaseRecord } from '../../domain/leader-lease.js';
import { KIND_INFO, toKubeMicroTime, type LeaseResource } from './object-shapes.js';

export function toLeaseRecord(object: LeaseResource): LeaseRecord {
  const spec = object.spec ?? {};
  const time = (text: string | undefined): number | undefined => {
    const parsed = Date.parse(text ?? '');
    return Number.isNaN(parsed) ? undefined : parsed;
  };
  return {
    holder: spec.holderIdentity ?? '',
    durationMs: (spec.leaseDurationSeconds ?? 0) * 1000,
    acquireTime: time(spec.acquireTime),
    renewTime: time(spec.renewTime),
    transitions: spec.leaseTransitions ?? 0,
  };
}

/** The Lease object for a record (leaseDurationSeconds is whole seconds, at least one). */
export function toLeaseResource(namespace: string, name: string, record: LeaseRecord, resourceVersion?: string): LeaseResource {
  return {
    apiVersion: KIND_INFO.Lease.apiVersion,
    kind: 'Lease',
    metadata: { name, namespace, ...(resourceVersion ? { resourceVersion } : {}) },
    spec: {
      holderIdentity: record.holder,
      leaseDurationSeconds: Math.max(1, Math.ceil(record.durationMs / 1000)),
      ...(record.acquireTime !== undefined ? { acquireTime: toKubeMicroTime(record.acquireTime) } : {}),
      ...(record.renewTime !== undefined ? { renewTime: toKubeMicroTime(record.renewTime) } : {}),
      leaseTransitions: record.transitions,
    },
  };
}
