import { AppsV1Api, KubernetesObjectApi, type KubernetesObject } from '@kubernetes/client-node';
import type { KubeObject, PodResource, SecretResource, WorkloadResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { isNotFound } from '../../src/adapters/kubernetes/api-errors.js';
import { delegatedCredentials } from '../../src/adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../src/adapters/kubernetes/kubernetes-client.js';
import { KubernetesLeaseStore } from '../../src/adapters/kubernetes/kubernetes-lease-store.js';
import { KubernetesPodOwners } from '../../src/adapters/kubernetes/kubernetes-pod-owners.js';
import { KubernetesPodStatusFeed } from '../../src/adapters/kubernetes/kubernetes-pod-status-feed.js';
import { KubernetesPodStatusStore } from '../../src/adapters/kubernetes/kubernetes-pod-status-store.js';
import { KubernetesSyncedSecrets } from '../../src/adapters/kubernetes/kubernetes-synced-secrets.js';
import { KubernetesWorkloadStore } from '../../src/adapters/kubernetes/kubernetes-workload-store.js';
import type { WorkloadKind } from '../../src/domain/workload.js';
import { requireControlPlaneBinaries, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { Admin, json } from '../support/kube-admin.js';
import { eventually } from './eventually.js';
import { leaseStoreContract } from './lease-store.contract.js';
import { podOwnersContract } from './pod-owners.contract.js';
import { podStatusFeedContract } from './pod-status-feed.contract.js';
import { syncedSecretsContract } from './synced-secrets.contract.js';
import { workloadStoreContract } from './workload-store.contract.js';

/** How long a fixture waits for a watch-backed cache to see a write. */
const CACHE_WAIT_MS = 10_000;

/**
 * The restarter's Kubernetes adapters against a real kube-apiserver (no workload controllers run here:
 * the tests write workload status themselves, as the controllers would).
 */
describe('Kubernetes adapters of the restarter on a real API server', function () {
  this.timeout(180_000);
  let plane: ControlPlane | undefined;
  let admin: Admin;
  let apps: AppsV1Api;
  let objects: KubernetesObjectApi;

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    plane = await startControlPlane(binaries);
    admin = new Admin(plane);
    apps = plane.adminKubeConfig().makeApiClient(AppsV1Api);
    objects = KubernetesObjectApi.makeApiClient(plane.adminKubeConfig());
  });
  after(async () => plane?.stop());

  const client = (): KubernetesClient => new KubernetesClient(delegatedCredentials(plane!.adminKubeConfig()));

  /** Creates the object, or replaces its spec and metadata (as `kubectl replace`); resolves it as stored. */
  async function put<T extends KubeObject>(object: T): Promise<T> {
    const body = object as unknown as KubernetesObject & { metadata: { name: string; namespace: string } };
    try {
      return json<T>(await objects.create(body));
    } catch (error) {
      if ((error as { code?: number }).code !== 409) throw error;
    }
    const current = await objects.read(body);
    return json<T>(await objects.replace({ ...body, metadata: { ...body.metadata, resourceVersion: current.metadata?.resourceVersion } }));
  }

  const readWorkload = async (kind: WorkloadKind, namespace: string, name: string): Promise<WorkloadResource | undefined> => {
    try {
      return json<WorkloadResource>(await objects.read({ apiVersion: 'apps/v1', kind, metadata: { namespace, name } }));
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  };

  workloadStoreContract(async () => {
    const namespace = await plane!.createNamespace('workloads');
    const store = new KubernetesWorkloadStore({ client: client(), retryDelayMs: 50 });
    store.start();
    await store.whenSynced();
    const cacheHolds = async (kind: WorkloadKind, name: string, version: string | undefined): Promise<void> => {
      await eventually(() => {
        if (store.cachedResourceVersion({ kind, namespace, name }) !== version) throw new Error(`cache not at ${version}`);
      }, CACHE_WAIT_MS);
    };
    return {
      store,
      namespace,
      putWorkload: async (object) => {
        const stored = await put(object);
        await cacheHolds(object.kind, object.metadata.name, stored.metadata.resourceVersion);
        return stored;
      },
      putStatus: async (kind, ns, name, status) => {
        const current = (await readWorkload(kind, ns, name))!;
        const body = { ...current, status } as never;
        const replaced = {
          Deployment: () => apps.replaceNamespacedDeploymentStatus({ namespace: ns, name, body }),
          StatefulSet: () => apps.replaceNamespacedStatefulSetStatus({ namespace: ns, name, body }),
          DaemonSet: () => apps.replaceNamespacedDaemonSetStatus({ namespace: ns, name, body }),
        }[kind];
        await cacheHolds(kind, name, (await replaced()).metadata?.resourceVersion);
      },
      deleteWorkload: async (kind, ns, name) => {
        await objects.delete({ apiVersion: 'apps/v1', kind, metadata: { namespace: ns, name } });
        await cacheHolds(kind, name, undefined);
      },
      readWorkload,
      close: async () => store.stop(),
    };
  });

  podOwnersContract(async () => ({
    owners: new KubernetesPodOwners({ client: client() }),
    namespace: await plane!.createNamespace('pod-owners'),
    create: async (object) => (object.kind === 'Pod' ? ((await admin.putPod(object as PodResource)) as typeof object) : put(object)),
    deletePod: async (namespace, name) => {
      await admin.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 });
    },
    close: async () => undefined,
  }));

  podStatusFeedContract(async () => {
    const feed = new KubernetesPodStatusFeed({ client: client(), retryDelayMs: 50 });
    feed.start();
    await feed.whenSynced();
    return {
      feed,
      writer: new KubernetesPodStatusStore({ client: client(), nodeName: 'node-1' }),
      namespace: await plane!.createNamespace('status-feed'),
      putPod: (object) => admin.putPod(object),
      deleteStatus: async (namespace, name) =>
        void (await objects.delete({ apiVersion: 'secrets-store.csi.x-k8s.io/v1', kind: 'SecretProviderClassPodStatus', metadata: { namespace, name } })),
      close: async () => feed.stop(),
    };
  });

  syncedSecretsContract(async () => {
    const secrets = new KubernetesSyncedSecrets({ client: client(), retryDelayMs: 50 });
    secrets.start();
    await secrets.whenSynced();
    return {
      secrets,
      namespace: await plane!.createNamespace('synced-secrets'),
      putSecret: async (object: SecretResource) => {
        const stored = await put(object);
        if (object.metadata.labels?.['secrets-store.csi.k8s.io/managed'] === 'true') {
          await eventually(() => {
            if (secrets.cachedResourceVersion(stored.metadata.namespace!, stored.metadata.name) !== stored.metadata.resourceVersion) throw new Error('cache behind');
          }, CACHE_WAIT_MS);
        }
      },
      close: async () => secrets.stop(),
    };
  });

  leaseStoreContract(async () => ({
    leases: new KubernetesLeaseStore({ client: client(), namespace: await plane!.createNamespace('leases') }),
    close: async () => undefined,
  }));
});
