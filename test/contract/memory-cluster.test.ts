import type { KubeObject } from '../../src/adapters/kube-objects/object-shapes.js';
import { KubeApiError } from '../../src/adapters/memory-cluster/cluster-errors.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryEventRecorder } from '../../src/adapters/memory-cluster/memory-event-recorder.js';
import { MemoryPodFeed } from '../../src/adapters/memory-cluster/memory-pod-feed.js';
import { MemoryPodSource } from '../../src/adapters/memory-cluster/memory-pod-source.js';
import { MemoryPodStatusStore } from '../../src/adapters/memory-cluster/memory-pod-status-store.js';
import { MemorySecretProviderClassSource } from '../../src/adapters/memory-cluster/memory-secret-provider-class-source.js';
import { MemorySecretSink } from '../../src/adapters/memory-cluster/memory-secret-sink.js';
import { MemoryTokenSource } from '../../src/adapters/memory-cluster/memory-token-source.js';
import { MemoryLeaseStore } from '../../src/adapters/memory-cluster/memory-lease-store.js';
import { MemoryPodOwners } from '../../src/adapters/memory-cluster/memory-pod-owners.js';
import { MemoryPodStatusFeed } from '../../src/adapters/memory-cluster/memory-pod-status-feed.js';
import { MemorySyncedSecrets } from '../../src/adapters/memory-cluster/memory-synced-secrets.js';
import { MemoryWorkloadStore } from '../../src/adapters/memory-cluster/memory-workload-store.js';
import type { JsonObject } from '../../src/adapters/memory-cluster/json.js';
import { leaseStoreContract } from './lease-store.contract.js';
import { podOwnersContract } from './pod-owners.contract.js';
import { podStatusFeedContract } from './pod-status-feed.contract.js';
import { syncedSecretsContract } from './synced-secrets.contract.js';
import { workloadStoreContract } from './workload-store.contract.js';
import { eventRecorderContract } from './event-recorder.contract.js';
import { FEED_CSI_DRIVER, FEED_NODE, podFeedContract } from './pod-feed.contract.js';
import { podSourceContract } from './pod-source.contract.js';
import { podStatusStoreContract } from './pod-status-store.contract.js';
import { secretSinkContract } from './secret-sink.contract.js';
import { classSourceContract } from './secret-provider-class-source.contract.js';
import { tokenSourceContract } from './token-source.contract.js';

const NAMESPACE = 'contract';
const clock = { now: () => Date.parse('2026-01-02T03:04:05Z') };

/** Creates the object, or replaces the stored one (what `kubectl replace` would do). */
function put<T extends KubeObject>(cluster: InMemoryCluster, object: T): T {
  const { namespace = 'default', name } = object.metadata;
  const kind = object.kind as 'Pod';
  return cluster.get(kind, namespace, name) === undefined ? cluster.create(object) : cluster.update(object);
}

describe('in-memory cluster adapters', () => {
  classSourceContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      source: new MemorySecretProviderClassSource(cluster),
      namespace: NAMESPACE,
      putClass: async (object) => void put(cluster, object),
      deleteClass: async (namespace, name) => cluster.delete('SecretProviderClass', namespace, name),
      close: async () => undefined,
    };
  });

  podStatusStoreContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      store: new MemoryPodStatusStore(cluster),
      namespace: NAMESPACE,
      putPod: async (object) => put(cluster, object),
      readPodStatusObject: async (namespace, name) => cluster.get('SecretProviderClassPodStatus', namespace, name),
      close: async () => undefined,
    };
  });

  secretSinkContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      sink: new MemorySecretSink(cluster),
      namespace: NAMESPACE,
      putPod: async (object) => put(cluster, object),
      readSecret: async (namespace, name) => cluster.get('Secret', namespace, name),
      close: async () => undefined,
    };
  });

  podSourceContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      source: new MemoryPodSource(cluster),
      namespace: NAMESPACE,
      putPod: async (object) => put(cluster, object),
      terminatePod: async (namespace, name) =>
        void cluster.patch('Pod', namespace, name, { metadata: { deletionTimestamp: '2026-01-02T03:04:05Z' } }),
      deletePod: async (namespace, name) => cluster.delete('Pod', namespace, name),
      close: async () => undefined,
    };
  });

  podFeedContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    const csiDriverName = 'feed.example.com';
    return {
      feed: new MemoryPodFeed({ cluster, nodeName: FEED_NODE, clock: { now: () => Date.now() }, csiDrivers: { [csiDriverName]: FEED_CSI_DRIVER } }),
      namespace: NAMESPACE,
      csiDriverName,
      putPod: async (object) => {
        const stored = cluster.get('Pod', object.metadata.namespace!, object.metadata.name);
        if (stored === undefined) return cluster.create(object);
        return cluster.update({ ...stored, metadata: { ...stored.metadata, labels: object.metadata.labels, annotations: object.metadata.annotations } });
      },
      terminatePod: async (namespace, name) =>
        void cluster.patch('Pod', namespace, name, { metadata: { deletionTimestamp: '2026-01-02T03:04:05Z' } }),
      deletePod: async (namespace, name) => cluster.delete('Pod', namespace, name),
      readPod: async (namespace, name) => cluster.get('Pod', namespace, name),
      putSecret: async (namespace, name, data) => void cluster.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace }, stringData: data } as KubeObject),
      events: async (namespace) => cluster.list('Event', { namespace }),
      close: async () => undefined,
    };
  });

  eventRecorderContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      recorder: new MemoryEventRecorder(cluster, clock, { nodeName: 'node-1' }),
      namespace: NAMESPACE,
      putPod: async (object) => put(cluster, object),
      readEvents: async (namespace) => cluster.list('Event', { namespace }),
      failWrites: () => void cluster.interceptWrites(() => new KubeApiError('InternalError', 'writes refused by the test')),
      close: async () => undefined,
    };
  });

  tokenSourceContract(async () => ({
    source: new MemoryTokenSource(clock),
    pod: { namespace: NAMESPACE, name: 'app-0', uid: 'pod-uid-1', serviceAccountName: 'app' },
    now: clock.now,
    close: async () => undefined,
  }));

  workloadStoreContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      store: new MemoryWorkloadStore(cluster),
      namespace: NAMESPACE,
      putWorkload: async (object) => put(cluster, object),
      putStatus: async (kind, namespace, name, status) => void cluster.patch(kind, namespace, name, { status: status as JsonObject }),
      deleteWorkload: async (kind, namespace, name) => cluster.delete(kind, namespace, name),
      readWorkload: async (kind, namespace, name) => cluster.get(kind, namespace, name),
      close: async () => undefined,
    };
  });

  podOwnersContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      owners: new MemoryPodOwners(cluster),
      namespace: NAMESPACE,
      create: async (object) => cluster.create(object),
      deletePod: async (namespace, name) => cluster.delete('Pod', namespace, name),
      close: async () => undefined,
    };
  });

  podStatusFeedContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      feed: new MemoryPodStatusFeed(cluster),
      writer: new MemoryPodStatusStore(cluster),
      namespace: NAMESPACE,
      putPod: async (object) => put(cluster, object),
      deleteStatus: async (namespace, name) => void cluster.delete('SecretProviderClassPodStatus', namespace, name),
      close: async () => undefined,
    };
  });

  syncedSecretsContract(async () => {
    const cluster = new InMemoryCluster({ clock });
    return {
      secrets: new MemorySyncedSecrets(cluster),
      namespace: NAMESPACE,
      putSecret: async (object) => void put(cluster, object),
      close: async () => undefined,
    };
  });

  leaseStoreContract(async () => ({ leases: new MemoryLeaseStore(new InMemoryCluster({ clock }), 'kube-system'), close: async () => undefined }));
});
