import type { OwnerReference } from '../domain/owner-reference.js';
import type { StringMap } from '../domain/volume-binding.js';

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly phase: string;
  readonly terminating: boolean;
  readonly annotations: StringMap;
  readonly ownerReferences: readonly OwnerReference[];
}

/**
 * Reads the pods of this node and tells when one changes. Contract: `get` resolves undefined for a
 * missing pod; `onChange` listeners get the pod as it is after an add or update (not on deletion),
 * once `get` returns that state; it returns an unsubscribe function.
 */
export interface PodSource {
  get(namespace: string, name: string): Promise<PodInfo | undefined>;
  onChange(listener: (pod: PodInfo) => void): () => void;
}
export const PodSource = Symbol.for('PodSource');
