import { sortObjectVersions } from '../../domain/object-versions.js';
import type { OwnerReference } from '../../domain/owner-reference.js';
import { NODE_NAME_LABEL, type PodStatus, type StoredPodStatus } from '../../domain/pod-status.js';
import { KIND_INFO, type PodStatusResource } from './object-shapes.js';
import { toOwnerReferenceShape } from './owner-references.js';

/**
 * The SecretProviderClassPodStatus object for a domain record: named `status.name`, labelled with the
 * node, owned by the Pod so the garbage collector removes it with the pod, objects sorted by id.
 */
export function toPodStatusObject(status: PodStatus, owner: OwnerReference): PodStatusResource {
  return {
    apiVersion: KIND_INFO.SecretProviderClassPodStatus.apiVersion,
    kind: 'SecretProviderClassPodStatus',
    metadata: {
      name: status.name,
      namespace: status.namespace,
      labels: { [NODE_NAME_LABEL]: status.nodeName },
      ownerReferences: [toOwnerReferenceShape(owner)],
    },
    status: {
      podName: status.podName,
      secretProviderClassName: status.secretProviderClassName,
      mounted: status.mounted,
      targetPath: status.targetPath,
      objects: sortObjectVersions(status.objects).map(({ id, version }) => ({ id, version })),
    },
  };
}

/** A stored object -> the domain record; the pod uid comes from the Pod owner reference. */
export function toStoredPodStatus(object: PodStatusResource): StoredPodStatus {
  const status = object.status ?? {};
  const podOwner = (object.metadata.ownerReferences ?? []).find((owner) => owner.kind === 'Pod');
  return {
    namespace: object.metadata.namespace ?? '',
    name: object.metadata.name,
    uid: object.metadata.uid ?? '',
    podName: status.podName ?? '',
    podUid: podOwner?.uid ?? '',
    secretProviderClassName: status.secretProviderClassName ?? '',
    mounted: status.mounted ?? false,
    targetPath: status.targetPath ?? '',
    nodeName: object.metadata.labels?.[NODE_NAME_LABEL] ?? '',
    objects: sortObjectVersions(status.objects ?? []),
  };
}

/**
 * The stored object with the fields the driver owns set from `desired`: labels merged (others' labels
 * stay), owner references and status replaced; everything the server or others own is kept.
 */
export function withOwnedPodStatusFields(current: PodStatusResource, desired: PodStatusResource): PodStatusResource {
  return {
    ...current,
    metadata: {
      ...current.metadata,
      labels: { ...current.metadata.labels, ...desired.metadata.labels },
      ownerReferences: desired.metadata.ownerReferences!,
    },
    status: desired.status!,
  };
}
