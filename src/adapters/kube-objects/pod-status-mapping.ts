import { sortObjectVersions } from '../../domain/object-versions.js';
import type { OwnerReference } from '../../domain/owner-reference.js';
import { NODE_NAME_LABEL, type PodStatus, type RotationReport, type StoredPodStatus } from '../../domain/pod-status.js';
import { KIND_INFO, toKubeTime, type PodStatusResource } from './object-shapes.js';
import { toOwnerReferenceShape } from './owner-references.js';

type PodStatusFields = NonNullable<PodStatusResource['status']>;

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
      ...toRotationFields(status.rotation ?? {}),
    },
  };
}

function toRotationFields({ lastRotationTime, lastRotationError, nextRotationTime }: RotationReport): Partial<PodStatusFields> {
  return {
    ...(lastRotationTime !== undefined ? { lastRotationTime: toKubeTime(lastRotationTime) } : {}),
    ...(lastRotationError !== undefined ? { lastRotationError } : {}),
    ...(nextRotationTime !== undefined ? { nextRotationTime: toKubeTime(nextRotationTime) } : {}),
  };
}

function withRotation(rotation: RotationReport): { rotation?: RotationReport } {
  return Object.keys(rotation).length > 0 ? { rotation } : {};
}

/** Unparseable times (a user's edit) read as absent: the driver rewrites them with the next status it writes. */
function fromRotationFields({ lastRotationTime, lastRotationError, nextRotationTime }: PodStatusFields): RotationReport {
  const time = (text: string | undefined): number | undefined => {
    const parsed = text === undefined ? NaN : Date.parse(text);
    return Number.isNaN(parsed) ? undefined : parsed;
  };
  const last = time(lastRotationTime);
  const next = time(nextRotationTime);
  return {
    ...(last !== undefined ? { lastRotationTime: last } : {}),
    ...(lastRotationError !== undefined && lastRotationError !== '' ? { lastRotationError } : {}),
    ...(next !== undefined ? { nextRotationTime: next } : {}),
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
    ...withRotation(fromRotationFields(status)),
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
