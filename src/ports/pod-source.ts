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

/** Reads the pods of this node. Contract: `get` resolves undefined for a missing pod. */
export interface PodSource {
  get(namespace: string, name: string): Promise<PodInfo | undefined>;
}
export const PodSource = Symbol.for('PodSource');
