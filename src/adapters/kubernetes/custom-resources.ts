import { apiPaths } from './kubernetes-client.js';

/** Where the driver's custom resources live in the API (group `secrets-store.csi.x-k8s.io`, version v1). */
export const CSI_GROUP = 'secrets-store.csi.x-k8s.io';
export const CSI_VERSION = 'v1';
export const SECRET_PROVIDER_CLASSES = 'secretproviderclasses';
export const POD_STATUSES = 'secretproviderclasspodstatuses';

/** The collection path of one of the driver's resources, cluster-wide or in a namespace. */
export function csiCollection(plural: string, namespace?: string): string {
  return apiPaths.custom(CSI_GROUP, CSI_VERSION, plural, namespace);
}

export function csiObject(plural: string, namespace: string, name: string): string {
  return apiPaths.customObject(CSI_GROUP, CSI_VERSION, plural, namespace, name);
}
