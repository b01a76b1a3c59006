import type { OwnerReference } from '../domain/owner-reference.js';
import type { StringMap } from '../domain/volume-binding.js';

/** One `csi:` volume of a pod spec (any driver), as kubelet would hand it to the driver. */
export interface PodCsiVolume {
  readonly name: string;
  readonly driver: string;
  readonly readOnly: boolean;
  readonly volumeAttributes: StringMap;
  /** The name of the Secret in the pod's namespace that kubelet passes as NodePublish secrets. */
  readonly nodePublishSecretRef: string | undefined;
}

export interface PodInfo {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly phase: string;
  readonly terminating: boolean;
  readonly annotations: StringMap;
  readonly ownerReferences: readonly OwnerReference[];
  /** The pod's service account ("default" when the spec names none, as the API server defaults it). */
  readonly serviceAccountName: string;
  readonly csiVolumes: readonly PodCsiVolume[];
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
