import type { KubeObject, ObjectMeta, PodResource } from '../kube-objects/object-shapes.js';

/**
 * What the caches keep of an object: a node holds hundreds of pods and pod statuses, and the API
 * server sends each with managedFields and (for pods) container specs and status the driver never
 * reads. Each function keeps exactly the fields of the shape in object-shapes.ts that the mappings use.
 */

/** Metadata without managedFields and the fields the driver does not read. */
export function slimMetadata(metadata: ObjectMeta): ObjectMeta {
  const { name, namespace, uid, resourceVersion, generation, creationTimestamp, deletionTimestamp, labels, annotations, ownerReferences } = metadata;
  return {
    name,
    ...(namespace !== undefined ? { namespace } : {}),
    ...(uid !== undefined ? { uid } : {}),
    ...(resourceVersion !== undefined ? { resourceVersion } : {}),
    ...(generation !== undefined ? { generation } : {}),
    ...(creationTimestamp !== undefined ? { creationTimestamp } : {}),
    ...(deletionTimestamp !== undefined ? { deletionTimestamp } : {}),
    ...(labels !== undefined ? { labels } : {}),
    ...(annotations !== undefined ? { annotations } : {}),
    ...(ownerReferences !== undefined ? { ownerReferences } : {}),
  };
}

/** Any object with its metadata slimmed; the rest (spec, status) is kept as sent. */
export function slimObject<T extends KubeObject>(object: T): T {
  return { ...object, metadata: slimMetadata(object.metadata) };
}

/** A pod as PodInfo needs it: identity, phase, service account and its CSI volumes. */
export function slimPod(pod: PodResource): PodResource {
  const volumes = (pod.spec?.volumes ?? []).filter((volume) => volume.csi !== undefined).map(({ name, csi }) => ({ name, csi }));
  return {
    apiVersion: pod.apiVersion,
    kind: pod.kind,
    metadata: slimMetadata(pod.metadata),
    spec: {
      ...(pod.spec?.nodeName !== undefined ? { nodeName: pod.spec.nodeName } : {}),
      ...(pod.spec?.serviceAccountName !== undefined ? { serviceAccountName: pod.spec.serviceAccountName } : {}),
      volumes,
    },
    ...(pod.status?.phase !== undefined ? { status: { phase: pod.status.phase } } : {}),
  };
}
