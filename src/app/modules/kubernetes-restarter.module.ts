import { ContainerModule, type Container } from 'inversify';
import { RESTARTER_COMPONENT } from '../../adapters/kube-objects/object-shapes.js';
import type { ApiCredentials } from '../../adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../adapters/kubernetes/kubernetes-client.js';
import { KubernetesEventRecorder } from '../../adapters/kubernetes/kubernetes-event-recorder.js';
import { KubernetesLeaseStore } from '../../adapters/kubernetes/kubernetes-lease-store.js';
import { KubernetesPodOwners } from '../../adapters/kubernetes/kubernetes-pod-owners.js';
import { KubernetesPodStatusFeed } from '../../adapters/kubernetes/kubernetes-pod-status-feed.js';
import { KubernetesSyncedSecrets } from '../../adapters/kubernetes/kubernetes-synced-secrets.js';
import { KubernetesWorkloadStore } from '../../adapters/kubernetes/kubernetes-workload-store.js';
import { Clock } from '../../ports/clock.js';
import { EventRecorder } from '../../ports/event-recorder.js';
import { LeaseStore } from '../../ports/lease-store.js';
import { Logger } from '../../ports/logger.js';
import { PodOwners } from '../../ports/pod-owners.js';
import { PodStatusFeed } from '../../ports/pod-status-feed.js';
import { SyncedSecrets } from '../../ports/synced-secrets.js';
import { WorkloadStore } from '../../ports/workload-store.js';

export interface KubernetesRestarterModuleOptions {
  /** From `--kubeconfig`, else KUBECONFIG, else in-cluster. */
  readonly credentials: ApiCredentials;
  /** `secrets-store-csi/<version>`, the User-Agent of every request. */
  readonly userAgent: string;
  /** Where the leader election Lease lives. */
  readonly leaseNamespace: string;
}

/**
 * The restarter's ports over the Kubernetes API: cluster-wide caches of workloads, pod status objects and
 * synced Secrets (metadata only), pod owners read on demand, the Lease, events on workloads. The caches
 * start following the cluster when first resolved and stop when the container unbinds.
 */
export function kubernetesRestarterModule(options: KubernetesRestarterModuleOptions): ContainerModule {
  return new ContainerModule(({ bind }) => {
    // Resolved by every adapter below, so unbinding the container closes its kept-alive connections.
    bind(KubernetesClient)
      .toResolvedValue(() => new KubernetesClient(options.credentials, { userAgent: options.userAgent }))
      .inSingletonScope()
      .onDeactivation((client) => client.close());
    bind(KubernetesWorkloadStore)
      .toResolvedValue((client: KubernetesClient, logger: Logger) => started(new KubernetesWorkloadStore({ client, logger })), [KubernetesClient, Logger])
      .inSingletonScope()
      .onDeactivation((store) => store.stop());
    bind(WorkloadStore).toService(KubernetesWorkloadStore);
    bind(KubernetesPodStatusFeed)
      .toResolvedValue((client: KubernetesClient, logger: Logger) => started(new KubernetesPodStatusFeed({ client, logger })), [KubernetesClient, Logger])
      .inSingletonScope()
      .onDeactivation((feed) => feed.stop());
    bind(PodStatusFeed).toService(KubernetesPodStatusFeed);
    bind(KubernetesSyncedSecrets)
      .toResolvedValue((client: KubernetesClient, logger: Logger) => started(new KubernetesSyncedSecrets({ client, logger })), [KubernetesClient, Logger])
      .inSingletonScope()
      .onDeactivation((secrets) => secrets.stop());
    bind(SyncedSecrets).toService(KubernetesSyncedSecrets);
    bind(PodOwners)
      .toResolvedValue((client: KubernetesClient) => new KubernetesPodOwners({ client }), [KubernetesClient])
      .inSingletonScope();
    bind(LeaseStore)
      .toResolvedValue((client: KubernetesClient) => new KubernetesLeaseStore({ client, namespace: options.leaseNamespace }), [KubernetesClient])
      .inSingletonScope();
    bind(EventRecorder)
      .toResolvedValue(
        (client: KubernetesClient, clock: Clock, logger: Logger) => new KubernetesEventRecorder({ client, clock, logger, component: RESTARTER_COMPONENT }),
        [KubernetesClient, Clock, Logger],
      )
      .inSingletonScope();
  });
}

/** Resolves once the restarter's caches hold their first list (its readiness); resolving them starts them. */
export async function kubernetesRestarterCachesSynced(container: Container): Promise<void> {
  await Promise.all([
    container.get(KubernetesWorkloadStore).whenSynced(),
    container.get(KubernetesPodStatusFeed).whenSynced(),
    container.get(KubernetesSyncedSecrets).whenSynced(),
  ]);
}

function started<T extends { start(): void }>(watcher: T): T {
  watcher.start();
  return watcher;
}
