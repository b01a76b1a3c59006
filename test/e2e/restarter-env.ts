import { AppsV1Api, CoreV1Api, type V1Deployment, type V1Pod } from '@kubernetes/client-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delegatedCredentials } from '../../src/adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../src/adapters/kubernetes/kubernetes-client.js';
import { KubernetesPodStatusStore } from '../../src/adapters/kubernetes/kubernetes-pod-status-store.js';
import type { ObjectVersion } from '../../src/domain/object-versions.js';
import { podStatusName } from '../../src/domain/pod-status.js';
import { RestartAnnotation } from '../../src/domain/restart-on-rotation.js';
import { eventually } from '../contract/eventually.js';
import { BASE_CONTROLLERS, startControlPlane, WORKLOAD_CONTROLLERS, type ControlPlane, type ControlPlaneBinaries } from '../support/control-plane.js';
import { Admin, json } from '../support/kube-admin.js';
import { aDeploymentResource } from '../support/workload-builders.js';
import { CliProcess } from './processes.js';

export const NODES = ['node-1', 'node-2'] as const;

/** The restarter's timing in these tests: short, so that each scenario takes seconds. */
export const RESTARTER_TIMING = { debounceMs: 2_000, minIntervalMs: 1_000, leaseDurationMs: 4_000, renewDeadlineMs: 3_000, retryPeriodMs: 1_000 };

/** How long a rollout, a restart or a takeover may take on a loaded machine. */
export const DEADLINE_MS = 60_000;

/**
 * How long to watch for a restart that must not come: a decision needs at most the debounce window plus the
 * per-workload interval after the last change it could react to (and a lease takeover after a restarter
 * restart), so a restart not seen by then would not come from that change.
 */
export const QUIET_MS = RESTARTER_TIMING.debounceMs + RESTARTER_TIMING.minIntervalMs + RESTARTER_TIMING.leaseDurationMs + 2_000;

interface TrackedPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly node: string;
  readonly className: string;
}

/**
 * A real control plane with the deployment and ReplicaSet controllers; the restarter as a process of its
 * own, authenticated as its ServiceAccount (deploy/rbac/restarter.yaml only); and, for the nodes, doubles
 * of kubelet and of the node agents: pods are bound to node-1 and node-2 in turn through the pods/binding
 * subresource, get their pod status object as the node agent of their node writes it at mount time (with
 * the node agents' own RBAC, through the driver's KubernetesPodStatusStore), then turn Ready; a pod being
 * deleted is confirmed gone, as kubelet does. A rotation is what a node agent writes after one.
 */
export class RestarterEnv {
  plane: ControlPlane | undefined;
  admin!: Admin;
  core!: CoreV1Api;
  apps!: AppsV1Api;
  restarter: CliProcess | undefined;
  private readonly stoppedRestarters: CliProcess[] = [];
  private workDir = '';
  private restarterKubeconfig = '';
  private nodeAgents!: KubernetesPodStatusStore;
  private readonly pods = new Map<string, TrackedPod>();
  private nextNode = 0;
  private kubeletLoop: Promise<void> | undefined;
  private stopping = false;
  /** While false, pods are bound and mounted but not made Ready (a rollout stays in progress). */
  podsBecomeReady = true;
  readonly namespaces = new Set<string>();

  async start(binaries: ControlPlaneBinaries): Promise<void> {
    this.plane = await startControlPlane(binaries, { controllers: [...BASE_CONTROLLERS, ...WORKLOAD_CONTROLLERS] });
    this.admin = new Admin(this.plane);
    this.core = this.admin.core;
    this.apps = this.plane.adminKubeConfig().makeApiClient(AppsV1Api);
    for (const file of ['serviceaccount', 'base', 'restarter']) await this.admin.apply(`deploy/rbac/${file}.yaml`);
    this.workDir = await mkdtemp(join(tmpdir(), 'sscsi-restarter-'));
    this.restarterKubeconfig = join(this.workDir, 'restarter.kubeconfig');
    await writeFile(this.restarterKubeconfig, this.plane.kubeConfigWithToken(await this.serviceAccountToken('secrets-store-csi-restarter')).exportConfig(), { mode: 0o600 });
    const driverConfig = this.plane.kubeConfigWithToken(await this.serviceAccountToken('secrets-store-csi-driver'));
    this.nodeAgents = new KubernetesPodStatusStore({ client: new KubernetesClient(delegatedCredentials(driverConfig)), nodeName: NODES[0] });
    this.kubeletLoop = this.runKubelets();
  }

  /** Starts a restarter process (leader election on); resolves once it leads. */
  async startRestarter(): Promise<CliProcess> {
    if (this.restarter?.running) this.stoppedRestarters.push(this.restarter);
    const { debounceMs, minIntervalMs, leaseDurationMs, renewDeadlineMs, retryPeriodMs } = RESTARTER_TIMING;
    const restarter = CliProcess.start([
      'restarter',
      '--kubeconfig', this.restarterKubeconfig,
      '--metrics-addr', '127.0.0.1:0',
      '--health-addr', '127.0.0.1:0',
      '--debounce-window', `${debounceMs}ms`,
      '--min-restart-interval', `${minIntervalMs}ms`,
      '--cluster-restart-qps', '0',
      '--leader-election-namespace', 'kube-system',
      '--leader-election-lease-duration', `${leaseDurationMs}ms`,
      '--leader-election-renew-deadline', `${renewDeadlineMs}ms`,
      '--leader-election-retry-period', `${retryPeriodMs}ms`,
      '-v', '5',
    ]);
    this.restarter = restarter;
    await restarter.waitForStderr(/leading: this process restarts workloads now/, DEADLINE_MS);
    return restarter;
  }

  /** Ends the restarter process without letting it release the lease (a crash, an evicted pod). */
  async killRestarter(): Promise<void> {
    const restarter = this.restarter!;
    this.stoppedRestarters.push(restarter);
    await restarter.stop('SIGKILL');
  }

  async createNamespace(prefix: string): Promise<string> {
    const namespace = await this.plane!.createNamespace(prefix);
    this.namespaces.add(namespace);
    return namespace;
  }

  /** An opted-in Deployment whose pods mount `className`; resolves once its rollout is complete and every pod has its pod status. */
  async createDeployment(namespace: string, name: string, className: string, replicas: number): Promise<void> {
    const body = aDeploymentResource({ namespace, name, className, replicas, annotations: { [RestartAnnotation.restartOnRotation]: 'true' } });
    await this.apps.createNamespacedDeployment({ namespace, body: body as unknown as V1Deployment });
    await this.waitRolledOut(namespace, name, replicas);
  }

  /** Waits until the Deployment's latest revision is rolled out: every pod updated, available, with its pod status, and no old pod left. */
  async waitRolledOut(namespace: string, name: string, replicas: number): Promise<void> {
    await eventually(async () => {
      const deployment = await this.apps.readNamespacedDeployment({ namespace, name });
      const status = deployment.status ?? {};
      if ((status.observedGeneration ?? 0) < (deployment.metadata?.generation ?? 0)) throw new Error('spec not yet observed');
      if (status.updatedReplicas !== replicas || status.availableReplicas !== replicas || status.replicas !== replicas) {
        throw new Error(`rollout of ${name}: ${JSON.stringify(status)}`);
      }
      const pods = await this.podsOf(namespace, name);
      if (pods.length !== replicas) throw new Error(`${pods.length} pods of ${name}, expected ${replicas}`);
      const statuses = await this.admin.custom.listNamespacedCustomObject({ group: 'secrets-store.csi.x-k8s.io', version: 'v1', namespace, plural: 'secretproviderclasspodstatuses' });
      const owners = new Set(((statuses as { items: { status?: { podName?: string } }[] }).items ?? []).map((item) => item.status?.podName));
      if (!pods.every((pod) => owners.has(pod.metadata!.name))) throw new Error(`not every pod of ${name} has its pod status yet`);
    }, DEADLINE_MS, 200).catch(this.withLogs);
  }

  /** The Deployment's rollout revision (`deployment.kubernetes.io/revision`): one more per rollout. */
  async revision(namespace: string, name: string): Promise<number> {
    const deployment = await this.apps.readNamespacedDeployment({ namespace, name });
    return Number(deployment.metadata?.annotations?.['deployment.kubernetes.io/revision'] ?? '0');
  }

  async templateAnnotations(namespace: string, name: string): Promise<Record<string, string>> {
    const deployment = await this.apps.readNamespacedDeployment({ namespace, name });
    return { ...deployment.spec?.template.metadata?.annotations };
  }

  /** The running, not terminating pods of a Deployment (by its `app` label). */
  async podsOf(namespace: string, name: string): Promise<V1Pod[]> {
    const pods = await this.core.listNamespacedPod({ namespace, labelSelector: `app=${name}` });
    return pods.items.filter((pod) => pod.metadata?.deletionTimestamp === undefined);
  }

  /** What the node agent of each pod's node writes after a rotation changed the pod's mount to `versions`. */
  async rotate(pods: readonly V1Pod[], versions: readonly ObjectVersion[]): Promise<void> {
    await Promise.all(pods.map((pod) => this.writePodStatus(this.pods.get(pod.metadata!.uid!)!, versions, Date.now())));
  }

  nodeOf(pod: V1Pod): string {
    return this.pods.get(pod.metadata!.uid!)!.node;
  }

  logs(): string {
    const stopped = this.stoppedRestarters.map((restarter, i) => `\nstderr of stopped restarter #${i + 1}:\n${restarter.stderr}`).join('');
    return `${stopped}\nrestarter stderr:\n${this.restarter?.stderr ?? ''}`;
  }

  readonly withLogs = (error: Error): never => {
    throw new Error(`${error.message}${this.logs()}`);
  };

  async dispose(): Promise<void> {
    this.stopping = true;
    const steps: (() => Promise<unknown> | undefined)[] = [
      () => this.kubeletLoop,
      () => this.restarter?.dispose(),
      ...this.stoppedRestarters.map((restarter) => () => restarter.dispose()),
      () => this.plane?.stop(),
      () => (this.workDir ? rm(this.workDir, { recursive: true, force: true }) : undefined),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`cleanup step failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }

  private async serviceAccountToken(name: string): Promise<string> {
    const token = await this.core.createNamespacedServiceAccountToken({ namespace: 'kube-system', name, body: { spec: { audiences: [], expirationSeconds: 3600 } } });
    return token.status!.token;
  }

  /** The node doubles, by polling: bind new pods, write their pod status, make them Ready, confirm deletions. */
  private async runKubelets(): Promise<void> {
    while (!this.stopping) {
      for (const namespace of this.namespaces) {
        try {
          const pods = (await this.core.listNamespacedPod({ namespace })).items;
          for (const pod of pods) await this.tend(pod);
        } catch (error) {
          // A conflict means the listed pod was stale (a controller or this loop changed it since): the next round reads it again.
          if (!this.stopping && (error as { code?: number }).code !== 409) process.stderr.write(`node doubles: ${error instanceof Error ? error.message : String(error)}\n`);
        }
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  private async tend(pod: V1Pod): Promise<void> {
    const namespace = pod.metadata!.namespace!;
    const name = pod.metadata!.name!;
    const uid = pod.metadata!.uid!;
    if (pod.metadata?.deletionTimestamp !== undefined) {
      await this.core.deleteNamespacedPod({ namespace, name, gracePeriodSeconds: 0 }).catch(() => undefined);
      return;
    }
    if (!this.pods.has(uid)) {
      const node = pod.spec?.nodeName ?? NODES[this.nextNode++ % NODES.length]!;
      if (pod.spec?.nodeName === undefined) {
        await this.core.createNamespacedPodBinding({ namespace, name, body: { metadata: { name }, target: { apiVersion: 'v1', kind: 'Node', name: node } } });
      }
      const className = pod.spec?.volumes?.find((volume) => volume.csi)?.csi?.volumeAttributes?.['secretProviderClass'] ?? '';
      const tracked = { namespace, name, uid, node, className };
      // The first mount: what the provider has now (v1 in these tests), and no rotation yet.
      await this.writePodStatus(tracked, [{ id: 'db-password', version: 'v1' }], undefined);
      this.pods.set(uid, tracked);
    }
    const ready = pod.status?.conditions?.some((condition) => condition.type === 'Ready' && condition.status === 'True');
    if (ready || !this.podsBecomeReady) return;
    const now = new Date();
    const running = { ...pod.status, phase: 'Running', conditions: ['PodScheduled', 'Initialized', 'ContainersReady', 'Ready'].map((type) => ({ type, status: 'True', lastTransitionTime: now })) };
    const containerStatuses = [{ name: 'app', image: 'registry.k8s.io/pause:3.10', imageID: '', ready: true, started: true, restartCount: 0, state: { running: { startedAt: now } } }];
    await this.core.replaceNamespacedPodStatus({ namespace, name, body: { ...json<V1Pod>(pod), status: { ...running, containerStatuses, startTime: now } as V1Pod['status'] } });
  }

  private async writePodStatus(pod: TrackedPod, objects: readonly ObjectVersion[], rotatedAt: number | undefined): Promise<void> {
    await this.nodeAgents.save(
      {
        namespace: pod.namespace,
        name: podStatusName(pod.name, pod.namespace, pod.className),
        podName: pod.name,
        podUid: pod.uid,
        secretProviderClassName: pod.className,
        mounted: true,
        targetPath: `/var/lib/kubelet/pods/${pod.uid}/volumes/kubernetes.io~csi/secrets/mount`,
        nodeName: pod.node,
        objects,
        ...(rotatedAt !== undefined ? { rotation: { lastRotationTime: rotatedAt } } : {}),
      },
      { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid },
    );
  }
}
