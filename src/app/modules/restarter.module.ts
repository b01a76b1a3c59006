import { ContainerModule } from 'inversify';
import { LeaderElector } from '../../application/leader-election.js';
import { RestartReconciler } from '../../application/restart-reconciler.js';
import { WorkloadEvidence } from '../../application/workload-evidence.js';
import type { RestartSettings } from '../../domain/restart-on-rotation.js';
import { Clock, Scheduler } from '../../ports/clock.js';
import { EventRecorder } from '../../ports/event-recorder.js';
import { LeaseStore } from '../../ports/lease-store.js';
import { Logger } from '../../ports/logger.js';
import { PodOwners } from '../../ports/pod-owners.js';
import { PodStatusFeed } from '../../ports/pod-status-feed.js';
import { RestartMetrics } from '../../ports/restart-metrics.js';
import { SyncedSecrets } from '../../ports/synced-secrets.js';
import { WorkloadStore } from '../../ports/workload-store.js';
import type { LeaderElectionConfig } from '../restarter-config.js';

export interface RestarterSettings {
  readonly restart: RestartSettings;
  readonly leaderElection: Pick<LeaderElectionConfig, 'leaseName' | 'identity' | 'timing'>;
}

/**
 * The restarter's decisions and loop, and its leader election (which makes the loop act while this
 * process holds the lease). Every port they need must be bound by the cluster module of the profile.
 */
export function restarterModule(settings: RestarterSettings): ContainerModule {
  return new ContainerModule(({ bind }) => {
    bind(WorkloadEvidence)
      .toResolvedValue((statuses: PodStatusFeed, owners: PodOwners, secrets: SyncedSecrets) => new WorkloadEvidence(statuses, owners, secrets), [
        PodStatusFeed,
        PodOwners,
        SyncedSecrets,
      ])
      .inSingletonScope();
    bind(RestartReconciler)
      .toResolvedValue(
        (
          workloads: WorkloadStore,
          statuses: PodStatusFeed,
          owners: PodOwners,
          secrets: SyncedSecrets,
          evidence: WorkloadEvidence,
          events: EventRecorder,
          metrics: RestartMetrics,
          clock: Clock,
          scheduler: Scheduler,
          logger: Logger,
        ) => new RestartReconciler(settings.restart, workloads, statuses, owners, secrets, evidence, events, metrics, clock, scheduler, logger),
        [WorkloadStore, PodStatusFeed, PodOwners, SyncedSecrets, WorkloadEvidence, EventRecorder, RestartMetrics, Clock, Scheduler, Logger],
      )
      .inSingletonScope();
    bind(LeaderElector)
      .toResolvedValue(
        (leases: LeaseStore, reconciler: RestartReconciler, metrics: RestartMetrics, clock: Clock, scheduler: Scheduler, logger: Logger) => {
          const { leaseName, identity, timing } = settings.leaderElection;
          const listener = {
            startedLeading: () => {
              metrics.leading(true);
              void reconciler.lead();
            },
            stoppedLeading: () => {
              metrics.leading(false);
              reconciler.follow();
            },
          };
          return new LeaderElector(leaseName, identity, timing, leases, listener, clock, scheduler, logger);
        },
        [LeaseStore, RestartReconciler, RestartMetrics, Clock, Scheduler, Logger],
      )
      .inSingletonScope();
  });
}
