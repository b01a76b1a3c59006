import type { StoredPodStatus } from '../domain/pod-status.js';

export interface PodStatusChange {
  /** The record before the change, when the feed held it (undefined for an add). */
  readonly previous: StoredPodStatus | undefined;
  /** The record after the change (undefined for a deletion). */
  readonly current: StoredPodStatus | undefined;
}

/**
 * The SecretProviderClassPodStatus records of every node, as the node agents write them (read only).
 * Contract: `list` returns the records of one namespace; listeners hear of every add, update and
 * deletion after `list` reflects it; returns an unsubscribe function.
 */
export interface PodStatusFeed {
  list(namespace: string): Promise<StoredPodStatus[]>;
  onChange(listener: (change: PodStatusChange) => void): () => void;
}
export const PodStatusFeed = Symbol.for('PodStatusFeed');
