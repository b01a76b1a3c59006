import type {
  EventResource,
  OwnerReferenceShape,
  PodResource,
  PodStatusResource,
  SecretObjectShape,
  SecretProviderClassResource,
  SecretResource,
  StringRecord,
} from '../../src/adapters/kube-objects/object-shapes.js';
import { NODE_NAME_LABEL, podStatusName, type PodStatus } from '../../src/domain/pod-status.js';
import type { OwnerReference } from '../../src/domain/owner-reference.js';
import type { NewSecret } from '../../src/domain/secret-sync-plan.js';
import { targetPathFor } from './builders.js';

export const CSI_API_VERSION = 'secrets-store.csi.x-k8s.io/v1';

export interface ClassResourceOptions {
  readonly namespace?: string;
  readonly name?: string;
  readonly provider?: string;
  readonly parameters?: StringRecord;
  readonly secretObjects?: SecretObjectShape[];
  readonly annotations?: StringRecord;
}

export function aClassResource(options: ClassResourceOptions = {}): SecretProviderClassResource {
  const { namespace = 'default', name = 'app-secrets', provider = 'fake', annotations } = options;
  return {
    apiVersion: CSI_API_VERSION,
    kind: 'SecretProviderClass',
    metadata: { name, namespace, ...(annotations ? { annotations } : {}) },
    spec: {
      provider,
      parameters: options.parameters ?? { objects: 'db-password' },
      ...(options.secretObjects ? { secretObjects: options.secretObjects } : {}),
    },
  };
}

export interface PodResourceOptions {
  readonly namespace?: string;
  readonly name?: string;
  readonly uid?: string;
  readonly nodeName?: string;
  readonly phase?: string;
  readonly annotations?: StringRecord;
  readonly ownerReferences?: OwnerReferenceShape[];
  readonly deletionTimestamp?: string;
}

export function aPodResource(options: PodResourceOptions = {}): PodResource {
  const { namespace = 'default', name = 'app-0', nodeName = 'node-1', phase = 'Running' } = options;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name,
      namespace,
      ...(options.uid ? { uid: options.uid } : {}),
      ...(options.annotations ? { annotations: options.annotations } : {}),
      ...(options.ownerReferences ? { ownerReferences: options.ownerReferences } : {}),
      ...(options.deletionTimestamp ? { deletionTimestamp: options.deletionTimestamp } : {}),
    },
    spec: {
      nodeName,
      serviceAccountName: 'app',
      volumes: [{ name: 'secrets', csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { secretProviderClass: 'app-secrets' } } }],
      containers: [{ name: 'app', volumeMounts: [{ name: 'secrets', mountPath: '/mnt/secrets-store', readOnly: true }] }],
    },
    status: { phase },
  };
}

export interface SecretResourceOptions {
  readonly namespace?: string;
  readonly name?: string;
  readonly type?: string;
  /** Values as text; encoded to base64 here. */
  readonly data?: StringRecord;
  readonly labels?: StringRecord;
  readonly ownerReferences?: OwnerReferenceShape[];
}

export function aSecretResource(options: SecretResourceOptions = {}): SecretResource {
  const data: StringRecord = {};
  for (const [key, value] of Object.entries(options.data ?? { password: 's3cret' })) data[key] = Buffer.from(value).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: {
      name: options.name ?? 'app-synced',
      namespace: options.namespace ?? 'default',
      ...(options.labels ? { labels: options.labels } : {}),
      ...(options.ownerReferences ? { ownerReferences: options.ownerReferences } : {}),
    },
    type: options.type ?? 'Opaque',
    data,
  };
}

export function aPodStatusResource(options: { namespace?: string; name?: string; nodeName?: string; owner?: OwnerReferenceShape } = {}): PodStatusResource {
  const { namespace = 'default', name = 'app-0-default-app-secrets', nodeName = 'node-1' } = options;
  return {
    apiVersion: CSI_API_VERSION,
    kind: 'SecretProviderClassPodStatus',
    metadata: {
      name,
      namespace,
      labels: { [NODE_NAME_LABEL]: nodeName },
      ...(options.owner ? { ownerReferences: [options.owner] } : {}),
    },
    status: { podName: 'app-0', secretProviderClassName: 'app-secrets', mounted: true, targetPath: targetPathFor('pod-uid-1'), objects: [] },
  };
}

export function anEventResource(options: { namespace?: string; name?: string; podName?: string } = {}): EventResource {
  const { namespace = 'default', name = 'app-0.1', podName = 'app-0' } = options;
  return {
    apiVersion: 'v1',
    kind: 'Event',
    metadata: { name, namespace },
    involvedObject: { apiVersion: 'v1', kind: 'Pod', namespace, name: podName },
    reason: 'MountRotationComplete',
    type: 'Normal',
    message: 'rotated',
  };
}

/** The owner reference naming a stored object (which must carry a uid). */
export function ownerOf(object: { apiVersion: string; kind: string; metadata: { name: string; uid?: string } }): OwnerReference {
  if (!object.metadata.uid) throw new Error(`${object.kind} ${object.metadata.name} has no uid: use the stored object`);
  return { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, uid: object.metadata.uid };
}

/** A domain pod status record for a stored pod. */
export function aPodStatusFor(pod: PodResource, overrides: Partial<PodStatus> = {}): PodStatus {
  const namespace = pod.metadata.namespace ?? 'default';
  const className = overrides.secretProviderClassName ?? 'app-secrets';
  return {
    namespace,
    name: podStatusName(pod.metadata.name, namespace, className),
    podName: pod.metadata.name,
    podUid: pod.metadata.uid ?? '',
    secretProviderClassName: className,
    mounted: true,
    targetPath: targetPathFor(pod.metadata.uid ?? 'pod-uid-1'),
    nodeName: 'node-1',
    objects: [{ id: 'secret/db-password', version: 'v1' }],
    ...overrides,
  };
}

export function aNewSecret(overrides: Partial<NewSecret> = {}): NewSecret {
  return {
    namespace: 'default',
    name: 'app-synced',
    type: 'Opaque',
    labels: { 'secrets-store.csi.k8s.io/managed': 'true' },
    annotations: {},
    data: { password: new TextEncoder().encode('s3cret') },
    ownerReferences: [],
    ...overrides,
  };
}
