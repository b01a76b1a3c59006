import type { ObjectVersion } from './object-versions.js';

export const NODE_NAME_LABEL = 'internal.secrets-store.csi.k8s.io/node-name';

/** The SecretProviderClassPodStatus record: which versions are mounted for one pod x class. */
export interface PodStatus {
  readonly namespace: string;
  readonly name: string;
  readonly podName: string;
  readonly podUid: string;
  readonly secretProviderClassName: string;
  readonly mounted: boolean;
  readonly targetPath: string;
  readonly nodeName: string;
  readonly objects: readonly ObjectVersion[];
}

/** A stored pod status, with the identity the store gave it (owner of Secrets synced for a bare pod). */
export interface StoredPodStatus extends PodStatus {
  readonly uid: string;
}

/** `<podName>-<namespace>-<spcName>`, the name upstream gives the object (users look it up by it). */
export function podStatusName(podName: string, namespace: string, className: string): string {
  return `${podName}-${namespace}-${className}`;
}
