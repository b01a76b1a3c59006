import type {
  ContainerShape,
  DaemonSetResource,
  DeploymentResource,
  OwnerReferenceShape,
  PodTemplateShape,
  ReplicaSetResource,
  StatefulSetResource,
} from '../../src/adapters/kube-objects/object-shapes.js';
import type { RolloutStatus, Workload, WorkloadKey } from '../../src/domain/workload.js';
import { RestartAnnotation } from '../../src/domain/restart-on-rotation.js';

export const WEB: WorkloadKey = { kind: 'Deployment', namespace: 'shop', name: 'web' };

/** A Deployment whose rollout is complete (3 replicas), opted in for mounts and Secrets unless told otherwise. */
export function aWorkload(overrides: Partial<Workload> = {}): Workload {
  return {
    key: WEB,
    uid: 'web-uid',
    resourceVersion: '7',
    generation: 2,
    annotations: { [RestartAnnotation.restartOnRotation]: 'true' },
    templateAnnotations: {},
    secretNames: [],
    rollout: aCompleteRollout(),
    ...overrides,
  };
}

export function aCompleteRollout(overrides: Partial<Extract<RolloutStatus, { kind: 'Deployment' }>> = {}): RolloutStatus {
  return { kind: 'Deployment', paused: false, replicas: 3, observedGeneration: 2, statusReplicas: 3, updatedReplicas: 3, availableReplicas: 3, ...overrides };
}

export interface WorkloadResourceOptions {
  readonly namespace?: string;
  readonly name?: string;
  readonly annotations?: Record<string, string>;
  readonly templateAnnotations?: Record<string, string>;
  /** Secrets the template reads: the first through env, the second through envFrom, the rest as volumes. */
  readonly secretNames?: readonly string[];
  readonly replicas?: number;
  readonly className?: string;
}

/** A pod template the API server accepts: labels matching the selector, one container, the driver's volume. */
function podTemplate(name: string, options: WorkloadResourceOptions): PodTemplateShape & { metadata: { labels: Record<string, string> } } {
  const [envSecret, envFromSecret, ...volumeSecrets] = options.secretNames ?? [];
  return {
    metadata: { labels: { app: name }, ...(options.templateAnnotations ? { annotations: { ...options.templateAnnotations } } : {}) },
    spec: {
      containers: [
        {
          name: 'app',
          image: 'registry.k8s.io/pause:3.10',
          ...(envSecret ? { env: [{ name: 'PASSWORD', valueFrom: { secretKeyRef: { name: envSecret, key: 'password' } } }] } : {}),
          ...(envFromSecret ? { envFrom: [{ secretRef: { name: envFromSecret } }] } : {}),
        } as ContainerShape,
      ],
      volumes: [
        { name: 'secrets', csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { secretProviderClass: options.className ?? 'app-secrets' } } },
        ...volumeSecrets.map((secretName, i) => ({ name: `secret-${i}`, secret: { secretName } })),
      ] as NonNullable<PodTemplateShape['spec']>['volumes'],
    },
  };
}

function workloadMetadata(defaultName: string, options: WorkloadResourceOptions): { name: string; namespace: string; annotations?: Record<string, string> } {
  return { name: options.name ?? defaultName, namespace: options.namespace ?? 'default', ...(options.annotations ? { annotations: { ...options.annotations } } : {}) };
}

/** A Deployment or StatefulSet: replicas, a selector and the template. */
function replicatedWorkload<K extends 'Deployment' | 'StatefulSet'>(kind: K, defaultName: string, defaultReplicas: number, options: WorkloadResourceOptions) {
  const metadata = workloadMetadata(defaultName, options);
  const spec = { replicas: options.replicas ?? defaultReplicas, selector: { matchLabels: { app: metadata.name } }, template: podTemplate(metadata.name, options) };
  return { apiVersion: 'apps/v1', kind, metadata, spec };
}

export function aDeploymentResource(options: WorkloadResourceOptions = {}): DeploymentResource {
  return replicatedWorkload('Deployment', 'web', 2, options);
}

export function aStatefulSetResource(options: WorkloadResourceOptions = {}): StatefulSetResource {
  return replicatedWorkload('StatefulSet', 'db', 1, options);
}

export function aDaemonSetResource(options: WorkloadResourceOptions = {}): DaemonSetResource {
  const metadata = workloadMetadata('agent', options);
  return { apiVersion: 'apps/v1', kind: 'DaemonSet', metadata, spec: { selector: { matchLabels: { app: metadata.name } }, template: podTemplate(metadata.name, options) } };
}

/** A ReplicaSet, controlled by `owner` when given (as the deployment controller makes them). */
export function aReplicaSetResource(options: { namespace?: string; name?: string; owner?: OwnerReferenceShape } = {}): ReplicaSetResource {
  const name = options.name ?? 'web-abc12';
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name, namespace: options.namespace ?? 'default', ...(options.owner ? { ownerReferences: [options.owner] } : {}) },
    spec: { replicas: 0, selector: { matchLabels: { app: name } }, template: podTemplate(name, {}) },
  };
}

/** The controller owner reference of a stored object (what a controller puts on what it creates). */
export function controllerRef(object: { apiVersion: string; kind: string; metadata: { name: string; uid?: string } }): OwnerReferenceShape {
  return { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, uid: object.metadata.uid!, controller: true, blockOwnerDeletion: true };
}
