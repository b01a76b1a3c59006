import { ContainerModule } from 'inversify';
import type { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import { MemoryEventRecorder } from '../../adapters/memory-cluster/memory-event-recorder.js';
import { MemoryLeaseStore } from '../../adapters/memory-cluster/memory-lease-store.js';
import { MemoryPodOwners } from '../../adapters/memory-cluster/memory-pod-owners.js';
import { MemoryPodStatusFeed } from '../../adapters/memory-cluster/memory-pod-status-feed.js';
import { MemorySyncedSecrets } from '../../adapters/memory-cluster/memory-synced-secrets.js';
import { MemoryWorkloadStore } from '../../adapters/memory-cluster/memory-workload-store.js';
import { RESTARTER_COMPONENT } from '../../adapters/kube-objects/object-shapes.js';
import { Clock } from '../../ports/clock.js';
import { EventRecorder } from '../../ports/event-recorder.js';
import { LeaseStore } from '../../ports/lease-store.js';
import { Logger } from '../../ports/logger.js';
import { PodOwners } from '../../ports/pod-owners.js';
import { PodStatusFeed } from '../../ports/pod-status-feed.js';
import { SyncedSecrets } from '../../ports/synced-secrets.js';
import { WorkloadStore } from '../../ports/workload-store.js';

/**
 * The restarter's ports over one in-memory cluster (simulation, tests); the Lease lives in `leaseNamespace`.
 * `workloads` replaces the cluster's own workload store (a test's view that lags behind the cluster).
 */
export function memoryRestarterModule(cluster: InMemoryCluster, leaseNamespace = 'kube-system', workloads: WorkloadStore = new MemoryWorkloadStore(cluster)): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(WorkloadStore).toConstantValue(workloads);
    bind(PodStatusFeed).toConstantValue(new MemoryPodStatusFeed(cluster));
    bind(PodOwners).toConstantValue(new MemoryPodOwners(cluster));
    bind(SyncedSecrets).toConstantValue(new MemorySyncedSecrets(cluster));
    bind(LeaseStore).toConstantValue(new MemoryLeaseStore(cluster, leaseNamespace));
    bind(EventRecorder)
      .toResolvedValue((clock: Clock, logger: Logger) => new MemoryEventRecorder(cluster, clock, { logger, component: RESTARTER_COMPONENT }), [Clock, Logger])
      .inSingletonScope();
  });
}
