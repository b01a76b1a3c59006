import type { DeploymentResource, OwnerReferenceShape, PodResource, ReplicaSetResource, SecretProviderClassResource } from '../../adapters/kube-objects/object-shapes.js';
import { RestartAnnotation } from '../../domain/restart-on-rotation.js';
import type { FakePod } from '../../adapters/fake-kubelet/fake-kubelet.js';

export const NAMESPACE = 'default';
export const PROVIDER = 'fake';
export const SHARED_CLASS = 'web-secrets';
export const SOLO_CLASS = 'worker-secrets';
export const SYNCED_SECRET = 'web-credentials';

/** Objects each class mounts, in the order the store rotates them. */
export const CLASS_OBJECTS: Readonly<Record<string, readonly string[]>> = {
  [SHARED_CLASS]: ['db-password', 'api-key'],
  [SOLO_CLASS]: ['queue-token'],
};

/** Keys of the synced Secret and the mounted objects they come from. */
export const SYNCED_KEYS: Readonly<Record<string, string>> = { password: 'db-password', 'api-key': 'api-key' };

/** The Deployment of the web pods: opted in to a restart when their mounts or the synced Secret rotate. */
export const DEPLOYMENT = 'web';
const REPLICA_SET = 'web-7c5d9f';

/** The worker pods' `securityContext.fsGroup`: their files belong to this group and are not world-readable. */
export const WORKER_FS_GROUP = 2000;

/** The object the simulation adds to the shared class halfway, to show a class change reaching mounts. */
export const ADDED_OBJECT = 'tls-bundle';

export function classResource(name: string, objects: readonly string[]): SecretProviderClassResource {
  return {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClass',
    metadata: { name, namespace: NAMESPACE },
    spec: {
      provider: PROVIDER,
      parameters: { objects: objects.map((object) => `- name: ${object}`).join('\n') },
      ...(name === SHARED_CLASS
        ? {
            secretObjects: [
              {
                secretName: SYNCED_SECRET,
                type: 'Opaque',
                labels: { app: 'web' },
                data: Object.entries(SYNCED_KEYS).map(([key, objectName]) => ({ objectName, key })),
              },
            ],
          }
        : {}),
    },
  };
}

/**
 * Pods 0..n-1: all but the last are web pods of the Deployment, sharing the class with the synced Secret
 * (at least two when n >= 2); the last is a worker with an fsGroup.
 */
export function simulatedPods(count: number): FakePod[] {
  const sharing = count <= 2 ? count : count - 1;
  return Array.from({ length: count }, (_, i) => {
    const shared = i < sharing;
    const name = shared ? `web-${i}` : `worker-${i - sharing}`;
    return {
      namespace: NAMESPACE,
      name,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      serviceAccountName: shared ? 'web' : 'worker',
      volumes: [{ name: 'secrets', volumeAttributes: { secretProviderClass: shared ? SHARED_CLASS : SOLO_CLASS } }],
      ...(shared ? {} : { fsGroup: WORKER_FS_GROUP }),
    };
  });
}

/**
 * The Pod object the cluster holds for one of the fake kubelet's pods (owners and phase for the driver);
 * a web pod belongs to the Deployment's ReplicaSet (`owner`), as a Deployment's pods do.
 */
export function podResource(pod: FakePod, nodeName: string, owner: OwnerReferenceShape | undefined): PodResource {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid, ...(owner ? { ownerReferences: [owner] } : {}) },
    spec: {
      nodeName,
      serviceAccountName: pod.serviceAccountName,
      containers: [{ name: 'app', volumeMounts: pod.volumes.map((volume) => ({ name: volume.name, mountPath: '/mnt/secrets', readOnly: true })) }],
      volumes: pod.volumes.map((volume) => ({
        name: volume.name,
        csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { ...volume.volumeAttributes } },
      })),
      ...(pod.fsGroup === undefined ? {} : { securityContext: { fsGroup: pod.fsGroup } }),
    },
    status: { phase: 'Running' },
  };
}

/** The web Deployment, opted in to restarts on rotation of its mounts and its synced Secret. */
export function deploymentResource(): DeploymentResource {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: DEPLOYMENT, namespace: NAMESPACE, annotations: { [RestartAnnotation.restartOnRotation]: 'true' } },
    spec: { replicas: 2, selector: { matchLabels: { app: DEPLOYMENT } }, template: { metadata: { labels: { app: DEPLOYMENT } }, spec: { containers: [{ name: 'app' }] } } },
  };
}

/** The ReplicaSet linking the web pods to their Deployment. */
export function replicaSetResource(deployment: OwnerReferenceShape): ReplicaSetResource {
  return {
    apiVersion: 'apps/v1',
    kind: 'ReplicaSet',
    metadata: { name: REPLICA_SET, namespace: NAMESPACE, ownerReferences: [deployment] },
    spec: { replicas: 2, selector: { matchLabels: { app: DEPLOYMENT } }, template: { metadata: { labels: { app: DEPLOYMENT } } } },
  };
}

/** The controller owner reference of a stored object (what a controller puts on what it creates). */
export function controllerOf(object: { apiVersion: string; kind: string; metadata: { name: string; uid?: string } }): OwnerReferenceShape {
  return { apiVersion: object.apiVersion, kind: object.kind, name: object.metadata.name, uid: object.metadata.uid!, controller: true, blockOwnerDeletion: true };
}

/** Whether a simulated pod is one of the Deployment's web pods. */
export function isWebPod(pod: FakePod): boolean {
  return pod.volumes[0]!.volumeAttributes['secretProviderClass'] === SHARED_CLASS;
}
