import type { PodResource, SecretProviderClassResource } from '../../adapters/kube-objects/object-shapes.js';
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

/** Pods 0..n-1: all but the last share the class with the synced Secret (at least two when n >= 2). */
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
    };
  });
}

/** The Pod objects the cluster holds for the fake kubelet's pods (owners and phase for the driver). */
export function podResource(pod: FakePod, nodeName: string): PodResource {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: pod.name, namespace: pod.namespace, uid: pod.uid },
    spec: {
      nodeName,
      serviceAccountName: pod.serviceAccountName,
      volumes: pod.volumes.map((volume) => ({
        name: volume.name,
        csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: { ...volume.volumeAttributes } },
      })),
    },
    status: { phase: 'Running' },
  };
}
