import { ManualClock } from '../../src/adapters/clock/manual-clock.js';
import type { KubeObject, OwnerReferenceShape, PodResource, WorkloadResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { completeRolloutsInstantly } from '../../src/adapters/memory-cluster/instant-rollouts.js';
import { MemoryPodStatusStore } from '../../src/adapters/memory-cluster/memory-pod-status-store.js';
import { MemoryMetrics } from '../../src/adapters/memory-metrics/memory-metrics.js';
import { memoryRestarterModule } from '../../src/app/modules/memory-restarter.module.js';
import { startRestarter, type Restarter } from '../../src/app/restarter.js';
import type { ObjectVersion } from '../../src/domain/object-versions.js';
import { podStatusName } from '../../src/domain/pod-status.js';
import { RestartAnnotation, type RestartSettings } from '../../src/domain/restart-on-rotation.js';
import type { WorkloadKind } from '../../src/domain/workload.js';
import type { LogFields, Logger } from '../../src/ports/logger.js';
import type { WorkloadStore } from '../../src/ports/workload-store.js';
import { aPodResource } from './cluster-builders.js';
import { aDaemonSetResource, aDeploymentResource, aReplicaSetResource, aStatefulSetResource, controllerRef, type WorkloadResourceOptions } from './workload-builders.js';

export const NS = 'shop';
export const SETTINGS: RestartSettings = { debounceMs: 30_000, minIntervalMs: 300_000, clusterLimit: { qps: 0, burst: 1 } };
/** The largest step of `advance`: shorter than every period the tests use. */
const STEP_MS = 1_000;
export const LEASE_TIMING = { leaseDurationMs: 15_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 };

export class CollectingLogger implements Logger {
  readonly lines: { level: string; message: string; fields?: LogFields }[] = [];
  debug = (message: string, fields?: LogFields): void => void this.lines.push({ level: 'debug', message, ...(fields ? { fields } : {}) });
  info = (message: string, fields?: LogFields): void => void this.lines.push({ level: 'info', message, ...(fields ? { fields } : {}) });
  warn = (message: string, fields?: LogFields): void => void this.lines.push({ level: 'warn', message, ...(fields ? { fields } : {}) });
  error = (message: string, fields?: LogFields): void => void this.lines.push({ level: 'error', message, ...(fields ? { fields } : {}) });
}

/**
 * An in-memory cluster with workloads, their pods and the pod status objects node agents write, a
 * manual clock and the restarter's profile over it: what the restarter's application tests (and a
 * simulation) need. Rollouts complete at once unless `holdRollouts` is set.
 */
export class RestarterWorld {
  readonly clock = new ManualClock(Date.parse('2026-12-01T10:00:00Z'));
  readonly cluster = new InMemoryCluster({ clock: this.clock });
  readonly statuses = new MemoryPodStatusStore(this.cluster);
  private readonly restarters: { restarter: Restarter; metrics: MemoryMetrics; logger: CollectingLogger }[] = [];
  private stopRollouts: (() => void) | undefined;

  constructor(options: { holdRollouts?: boolean } = {}) {
    if (!options.holdRollouts) this.stopRollouts = completeRolloutsInstantly(this.cluster, { daemonSetNodes: 2 });
  }

  /** Starts a restarter over the world (`identity` set: with leader election on the world's Lease; `workloads`: its view of the workloads). */
  start(
    settings: RestartSettings = SETTINGS,
    identity?: string,
    workloads?: WorkloadStore,
  ): { restarter: Restarter; metrics: MemoryMetrics; logger: CollectingLogger } {
    const metrics = new MemoryMetrics();
    const logger = new CollectingLogger();
    const restarter = startRestarter(
      { restart: settings, leaderElect: identity !== undefined, leaderElection: { leaseName: 'restarter', identity: identity ?? 'only', timing: LEASE_TIMING } },
      { clock: this.clock, logger, metrics },
      { cluster: memoryRestarterModule(this.cluster, undefined, workloads) },
    );
    const started = { restarter, metrics, logger };
    this.restarters.push(started);
    return started;
  }

  /** A workload with `pods` pods (each with a pod status of `className` at `versions`, fresh), spread over node-1 and node-2. */
  addWorkload(kind: WorkloadKind, name: string, options: WorkloadResourceOptions & { pods?: number; versions?: ObjectVersion[]; optIn?: string } = {}): WorkloadResource {
    const optIn = options.optIn ?? 'true';
    const annotations: Record<string, string> = optIn === '' ? {} : { [RestartAnnotation.restartOnRotation]: optIn };
    const build = { Deployment: aDeploymentResource, StatefulSet: aStatefulSetResource, DaemonSet: aDaemonSetResource }[kind];
    const workload = this.cluster.create(build({ namespace: NS, name, annotations, ...options }));
    const owner = kind === 'Deployment' ? controllerRef(this.cluster.create(aReplicaSetResource({ namespace: NS, name: `${name}-5d8f`, owner: controllerRef(workload) }))) : controllerRef(workload);
    for (let i = 0; i < (options.pods ?? 2); i++) this.addPod(`${owner.name}-${i}`, owner, options.className ?? 'app-secrets', options.versions ?? [{ id: 'db-password', version: 'v1' }], `node-${(i % 2) + 1}`);
    return workload;
  }

  addPod(name: string, owner: OwnerReferenceShape | undefined, className: string, versions: ObjectVersion[], nodeName: string): PodResource {
    const pod = this.cluster.create(aPodResource({ namespace: NS, name, nodeName, ...(owner ? { ownerReferences: [owner] } : {}) }));
    void this.saveStatus(pod, className, versions, nodeName, undefined);
    return pod;
  }

  /** What a node agent writes after a rotation changed the mount of `podName` (lastRotationTime now). */
  async rotate(podName: string, versions: ObjectVersion[], className = 'app-secrets'): Promise<void> {
    const pod = this.cluster.get('Pod', NS, podName)!;
    await this.saveStatus(pod, className, versions, pod.spec!.nodeName!, this.clock.now());
    await this.settle();
  }

  template(kind: WorkloadKind, name: string): Record<string, string> {
    return { ...(this.cluster.get(kind, NS, name) as WorkloadResource).spec?.template?.metadata?.annotations };
  }

  generation(kind: WorkloadKind, name: string): number {
    return this.cluster.get(kind, NS, name)!.metadata.generation!;
  }

  events(reason: string): { name: string; kind: string; type: string; message: string; count: number }[] {
    return this.cluster
      .list('Event', { namespace: NS })
      .filter((event) => event.reason === reason)
      .map((event) => ({ name: event.involvedObject.name!, kind: event.involvedObject.kind!, type: event.type!, message: event.message!, count: event.count ?? 1 }));
  }

  /** Lets watches, decisions and due timers run until nothing moves. */
  async settle(): Promise<void> {
    for (let round = 0; round < 5; round++) {
      await this.cluster.whenIdle();
      await Promise.all(this.restarters.map(({ restarter }) => restarter.started));
      await Promise.all(this.restarters.map(({ restarter }) => restarter.reconciler.whenIdle()));
      await new Promise((resolve) => setImmediate(resolve));
    }
  }

  /** Moves time on in steps of at most a second, letting the asynchronous work a timer starts finish before the next step. */
  async advance(ms: number): Promise<void> {
    await this.settle();
    let left = ms;
    do {
      const step = Math.min(STEP_MS, left);
      this.clock.advance(step);
      left -= step;
      await this.settle();
    } while (left > 0);
  }

  async stop(): Promise<void> {
    this.stopRollouts?.();
    for (const { restarter } of this.restarters.splice(0)) await restarter.stop();
  }

  private saveStatus(pod: KubeObject, className: string, objects: ObjectVersion[], nodeName: string, rotatedAt: number | undefined): Promise<unknown> {
    const { name, uid } = pod.metadata;
    return this.statuses.save(
      {
        namespace: NS,
        name: podStatusName(name, NS, className),
        podName: name,
        podUid: uid!,
        secretProviderClassName: className,
        mounted: true,
        targetPath: `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/secrets/mount`,
        nodeName,
        objects,
        ...(rotatedAt !== undefined ? { rotation: { lastRotationTime: rotatedAt } } : {}),
      },
      { apiVersion: 'v1', kind: 'Pod', name, uid: uid! },
    );
  }
}

