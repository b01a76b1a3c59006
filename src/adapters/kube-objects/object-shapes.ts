/**
 * Kubernetes JSON object shapes as the API server returns them, limited to the fields the driver reads
 * or writes. This folder is shared by the in-memory cluster and the real Kubernetes adapters: a
 * documented exception to "adapters never import another adapter folder", allowed because it is pure
 * mapping and imports nothing but src/domain and src/ports.
 */

export type StringRecord = Record<string, string>;

export interface OwnerReferenceShape {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: StringRecord;
  annotations?: StringRecord;
  ownerReferences?: OwnerReferenceShape[];
}

/** Any namespaced object: what every stored object has in common. */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
}

export interface SecretObjectDataShape {
  objectName?: string;
  key?: string;
}

export interface SecretObjectShape {
  secretName?: string;
  type?: string;
  labels?: StringRecord;
  annotations?: StringRecord;
  data?: SecretObjectDataShape[];
}

/** secrets-store.csi.x-k8s.io/v1 SecretProviderClass. */
export interface SecretProviderClassResource extends KubeObject {
  kind: 'SecretProviderClass';
  spec?: {
    provider?: string;
    parameters?: StringRecord;
    secretObjects?: SecretObjectShape[];
  };
}

export interface ObjectVersionShape {
  id: string;
  version: string;
}

/** secrets-store.csi.x-k8s.io/v1 SecretProviderClassPodStatus; its `status` is top-level, not a subresource. */
export interface PodStatusResource extends KubeObject {
  kind: 'SecretProviderClassPodStatus';
  status?: {
    podName?: string;
    secretProviderClassName?: string;
    mounted?: boolean;
    targetPath?: string;
    objects?: ObjectVersionShape[];
    lastRotationTime?: string;
    lastRotationError?: string;
    nextRotationTime?: string;
  };
}

/** core/v1 Secret; `data` values are base64 text. */
export interface SecretResource extends KubeObject {
  kind: 'Secret';
  type?: string;
  data?: StringRecord;
}

export interface CsiVolumeSourceShape {
  driver: string;
  readOnly?: boolean;
  fsType?: string;
  volumeAttributes?: StringRecord;
  nodePublishSecretRef?: { name: string };
}

/**
 * A container of a pod, as far as its volumes go (kubelet mounts only volumes some container uses) and the
 * Secrets it reads (a restart on rotation follows those).
 */
export interface ContainerShape {
  name: string;
  volumeMounts?: { name: string; mountPath?: string; readOnly?: boolean }[];
  volumeDevices?: { name: string; devicePath?: string }[];
  env?: { name?: string; valueFrom?: { secretKeyRef?: { name?: string } } }[];
  envFrom?: { secretRef?: { name?: string } }[];
}

/** core/v1 Pod, the parts a CSI node plugin (and a fake kubelet) look at. */
export interface PodResource extends KubeObject {
  kind: 'Pod';
  spec?: {
    nodeName?: string;
    serviceAccountName?: string;
    volumes?: { name: string; csi?: CsiVolumeSourceShape }[];
    containers?: ContainerShape[];
    initContainers?: ContainerShape[];
    ephemeralContainers?: ContainerShape[];
    securityContext?: { fsGroup?: number };
  };
  status?: { phase?: string };
}

/** A pod template of a workload, the parts a restart reads and writes. */
export interface PodTemplateShape {
  metadata?: { labels?: StringRecord; annotations?: StringRecord };
  spec?: {
    containers?: ContainerShape[];
    initContainers?: ContainerShape[];
    volumes?: { name?: string; secret?: { secretName?: string }; projected?: { sources?: { secret?: { name?: string } }[] } }[];
  };
}

export interface UpdateStrategyShape {
  type?: string;
  rollingUpdate?: { partition?: number };
}

/** apps/v1 Deployment. */
export interface DeploymentResource extends KubeObject {
  kind: 'Deployment';
  spec?: { replicas?: number; paused?: boolean; selector?: unknown; template?: PodTemplateShape };
  status?: { observedGeneration?: number; replicas?: number; updatedReplicas?: number; availableReplicas?: number; readyReplicas?: number };
}

/** apps/v1 StatefulSet. */
export interface StatefulSetResource extends KubeObject {
  kind: 'StatefulSet';
  spec?: { replicas?: number; selector?: unknown; template?: PodTemplateShape; updateStrategy?: UpdateStrategyShape };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    updatedReplicas?: number;
    currentRevision?: string;
    updateRevision?: string;
  };
}

/** apps/v1 DaemonSet. */
export interface DaemonSetResource extends KubeObject {
  kind: 'DaemonSet';
  spec?: { selector?: unknown; template?: PodTemplateShape; updateStrategy?: UpdateStrategyShape };
  status?: { observedGeneration?: number; desiredNumberScheduled?: number; updatedNumberScheduled?: number; numberAvailable?: number };
}

/** apps/v1 ReplicaSet: the link from a Deployment's pods to the Deployment. */
export interface ReplicaSetResource extends KubeObject {
  kind: 'ReplicaSet';
  spec?: { replicas?: number; selector?: unknown; template?: PodTemplateShape };
}

export type WorkloadResource = DeploymentResource | StatefulSetResource | DaemonSetResource;

/** coordination.k8s.io/v1 Lease; times are MicroTime (RFC 3339 with microseconds). */
export interface LeaseResource extends KubeObject {
  kind: 'Lease';
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string; leaseTransitions?: number };
}

export interface ObjectReferenceShape {
  apiVersion?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  uid?: string;
}

/** core/v1 Event as client-go's event recorder writes it. */
export interface EventResource extends KubeObject {
  kind: 'Event';
  involvedObject: ObjectReferenceShape;
  reason?: string;
  message?: string;
  type?: string;
  source?: { component?: string; host?: string };
  count?: number;
  firstTimestamp?: string;
  lastTimestamp?: string;
  reportingComponent?: string;
  reportingInstance?: string;
}

/** The kinds the driver touches, by the `kind` field. */
export interface KindMap {
  SecretProviderClass: SecretProviderClassResource;
  SecretProviderClassPodStatus: PodStatusResource;
  Secret: SecretResource;
  Pod: PodResource;
  Event: EventResource;
  Deployment: DeploymentResource;
  StatefulSet: StatefulSetResource;
  DaemonSet: DaemonSetResource;
  ReplicaSet: ReplicaSetResource;
  Lease: LeaseResource;
}

export type KnownKind = keyof KindMap;

export interface KindInfo {
  /** The version the driver reads and writes (what the API server returns to it). */
  readonly apiVersion: string;
  /** Every apiVersion a manifest may use for the kind (all convert losslessly to `apiVersion`). */
  readonly servedVersions: readonly string[];
  readonly plural: string;
}

const CSI_GROUP = 'secrets-store.csi.x-k8s.io';

export const KIND_INFO: Readonly<Record<KnownKind, KindInfo>> = {
  SecretProviderClass: {
    apiVersion: `${CSI_GROUP}/v1`,
    servedVersions: [`${CSI_GROUP}/v1`, `${CSI_GROUP}/v1alpha1`],
    plural: 'secretproviderclasses',
  },
  SecretProviderClassPodStatus: {
    apiVersion: `${CSI_GROUP}/v1`,
    servedVersions: [`${CSI_GROUP}/v1`, `${CSI_GROUP}/v1alpha1`],
    plural: 'secretproviderclasspodstatuses',
  },
  Secret: { apiVersion: 'v1', servedVersions: ['v1'], plural: 'secrets' },
  Pod: { apiVersion: 'v1', servedVersions: ['v1'], plural: 'pods' },
  Event: { apiVersion: 'v1', servedVersions: ['v1'], plural: 'events' },
  Deployment: { apiVersion: 'apps/v1', servedVersions: ['apps/v1'], plural: 'deployments' },
  StatefulSet: { apiVersion: 'apps/v1', servedVersions: ['apps/v1'], plural: 'statefulsets' },
  DaemonSet: { apiVersion: 'apps/v1', servedVersions: ['apps/v1'], plural: 'daemonsets' },
  ReplicaSet: { apiVersion: 'apps/v1', servedVersions: ['apps/v1'], plural: 'replicasets' },
  Lease: { apiVersion: 'coordination.k8s.io/v1', servedVersions: ['coordination.k8s.io/v1'], plural: 'leases' },
};

/** Kinds whose metadata.generation counts spec changes. */
export const GENERATION_KINDS: readonly KnownKind[] = ['SecretProviderClass', 'Deployment', 'StatefulSet', 'DaemonSet', 'ReplicaSet'];

export const KNOWN_KINDS = Object.keys(KIND_INFO) as KnownKind[];

export function isKnownKind(kind: unknown): kind is KnownKind {
  return typeof kind === 'string' && Object.prototype.hasOwnProperty.call(KIND_INFO, kind);
}

/** The component name upstream's event recorder reports. */
export const DRIVER_COMPONENT = 'secrets-store-csi-driver';

/** The component name the restarter's events report. */
export const RESTARTER_COMPONENT = 'secrets-store-csi-restarter';

/** metav1.Time on the wire: RFC 3339 in UTC with whole seconds. */
export function toKubeTime(epochMs: number): string {
  return new Date(Math.floor(epochMs / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

/** metav1.MicroTime on the wire (Lease times): RFC 3339 in UTC with microseconds. */
export function toKubeMicroTime(epochMs: number): string {
  return new Date(Math.floor(epochMs)).toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');
}
