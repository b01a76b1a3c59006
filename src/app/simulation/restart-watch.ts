import type { EventResource } from '../../adapters/kube-objects/object-shapes.js';
import type { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import { completeRolloutsInstantly } from '../../adapters/memory-cluster/instant-rollouts.js';
import { MemoryMetrics } from '../../adapters/memory-metrics/memory-metrics.js';
import { EventReason } from '../../domain/events.js';
import { RestartAnnotation } from '../../domain/restart-on-rotation.js';
import type { Clock, Random, Scheduler } from '../../ports/clock.js';
import type { Logger } from '../../ports/logger.js';
import type { RotationConfig } from '../config.js';
import { memoryRestarterModule } from '../modules/memory-restarter.module.js';
import { startRestarter, type Restarter } from '../restarter.js';
import type { Narrator } from './narrator.js';
import { DEPLOYMENT, NAMESPACE } from './world.js';

/**
 * The restarter of the simulation, in process over the in-memory cluster (rollouts complete at once:
 * no pods are replaced), and what it does, narrated: each restart of the web Deployment with the hash
 * of the rotation it was for. A hash seen twice is a restart made twice for one rotation: a failure.
 */
export class RestartWatch {
  private readonly restarter: Restarter;
  private readonly stopRollouts: () => void;
  private readonly unwatch: () => void;
  private readonly hashes = new Set<string>();

  constructor(
    private readonly cluster: InMemoryCluster,
    private readonly narrator: Narrator,
    runtime: { readonly clock: Clock & Scheduler & Random; readonly logger: Logger },
    rotation: Pick<RotationConfig, 'intervalMs' | 'jitterFraction'>,
  ) {
    this.stopRollouts = completeRolloutsInstantly(cluster);
    this.restarter = startRestarter(
      {
        // The web pods' checks of one store change spread over the jitter: wait that long, then restart once.
        restart: { debounceMs: Math.round(2 * rotation.intervalMs * rotation.jitterFraction) + 250, minIntervalMs: 0, clusterLimit: { qps: 0, burst: 1 } },
        leaderElect: false,
        leaderElection: { leaseName: 'restarter', identity: 'simulation', timing: { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 } },
      },
      { ...runtime, metrics: new MemoryMetrics() },
      { cluster: memoryRestarterModule(cluster) },
    );
    this.unwatch = cluster.watch('Event', ({ type, object }) => {
      const event = object as EventResource;
      if (type !== 'DELETED' && event.reason === EventReason.restartedOnRotation && event.involvedObject.name === DEPLOYMENT) this.restarted(event);
    });
  }

  async stop(): Promise<void> {
    this.unwatch();
    await this.restarter.stop();
    this.stopRollouts();
  }

  private restarted(event: EventResource): void {
    const template = this.cluster.get('Deployment', NAMESPACE, DEPLOYMENT)?.spec?.template?.metadata?.annotations ?? {};
    const hash = template[RestartAnnotation.restartedFor] ?? '';
    const subject = `${NAMESPACE}/${DEPLOYMENT}`;
    if (this.hashes.has(hash)) {
      this.narrator.problem(subject, `restarted a second time for the same rotation (${RestartAnnotation.restartedFor}=${hash})`);
      return;
    }
    this.hashes.add(hash);
    this.narrator.workloadRestarted(subject, event.message ?? '', hash);
  }
}
