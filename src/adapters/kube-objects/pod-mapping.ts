import type { PodInfo } from '../../ports/pod-source.js';
import type { PodResource } from './object-shapes.js';
import { toOwnerReferences } from './owner-references.js';

/** A Pod object -> what the driver needs to know; a pod with a deletionTimestamp is terminating. */
export function toPodInfo(object: PodResource): PodInfo {
  return {
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    uid: object.metadata.uid ?? '',
    phase: object.status?.phase ?? '',
    terminating: Boolean(object.metadata.deletionTimestamp),
    annotations: { ...(object.metadata.annotations ?? {}) },
    ownerReferences: toOwnerReferences(object.metadata.ownerReferences),
    serviceAccountName: object.spec?.serviceAccountName || 'default',
    csiVolumes: (object.spec?.volumes ?? []).flatMap(({ name, csi }) =>
      csi === undefined
        ? []
        : [{ name, driver: csi.driver, readOnly: csi.readOnly ?? false, volumeAttributes: { ...(csi.volumeAttributes ?? {}) }, nodePublishSecretRef: csi.nodePublishSecretRef?.name || undefined }],
    ),
  };
}
