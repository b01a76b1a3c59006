// Restarter footprint benchmark, the source of the restarter Deployment's resource figures: the restarter process
// (as its ServiceAccount, deploy/rbac/restarter.yaml) against the real control plane of test/support/control-plane.ts
// with N opted-in Deployments of R pods each (their ReplicaSets and pods written directly, no controllers), a pod
// status object per pod as node agents write them, and S synced Secrets. Prints the restarter's peak RSS (VmHWM)
// once it leads and has decided every workload, then after a rotation of every pod status has restarted every
// Deployment, with its CPU use over that phase. Needs test/control-plane/build-binaries.sh.
//   node dist/bench/restarter-rss.js --deployments 200 --replicas 3 --secrets 200 --node-options=--max-old-space-size=96
import 'reflect-metadata';
import { AppsV1Api, CoreV1Api, type V1Deployment, type V1ReplicaSet } from '@kubernetes/client-node';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { delegatedCredentials } from '../src/adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../src/adapters/kubernetes/kubernetes-client.js';
import { KubernetesPodStatusStore } from '../src/adapters/kubernetes/kubernetes-pod-status-store.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { podStatusName } from '../src/domain/pod-status.js';
import { RestartAnnotation } from '../src/domain/restart-on-rotation.js';
import { MANAGED_LABEL } from '../src/domain/secret-sync-plan.js';
import { bundledMain, CliProcess } from '../test/e2e/processes.js';
import { aPodResource } from '../test/support/cluster-builders.js';
import { startControlPlane } from '../test/support/control-plane.js';
import { Admin } from '../test/support/kube-admin.js';
import { aDeploymentResource, aReplicaSetResource, controllerRef } from '../test/support/workload-builders.js';
import { cpuSeconds, peakRssMiB } from './bench-support.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'deployments', kind: 'int', default: 200, help: 'opted-in Deployments' },
  { name: 'replicas', kind: 'int', default: 3, help: 'pods (each with a pod status object) per Deployment' },
  { name: 'secrets', kind: 'int', default: 200, help: 'synced Secrets (1 KiB of data each)' },
  { name: 'node-options', kind: 'string', default: '', help: 'NODE_OPTIONS of the restarter process, e.g. --max-old-space-size=96' },
];

const options = parseFlags(FLAGS, process.argv.slice(2));
const deployments = options['deployments'] as number;
const replicas = options['replicas'] as number;
const secrets = options['secrets'] as number;
const nodeOptions = options['node-options'] as string;


async function inBatches<T>(items: readonly T[], size: number, each: (item: T) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(each));
}

const plane = await startControlPlane();
const work = await mkdtemp(join(tmpdir(), 'sscsi-restarter-rss-'));
let restarter: CliProcess | undefined;
try {
  const admin = new Admin(plane);
  const core = plane.adminKubeConfig().makeApiClient(CoreV1Api);
  const apps = plane.adminKubeConfig().makeApiClient(AppsV1Api);
  const statuses = new KubernetesPodStatusStore({ client: new KubernetesClient(delegatedCredentials(plane.adminKubeConfig())), nodeName: 'node-1' });
  await admin.apply('deploy/rbac/restarter.yaml');
  const namespace = await plane.createNamespace('rss');
  const pods: { name: string; uid: string }[] = [];
  await inBatches([...Array(deployments).keys()], 20, async (i) => {
    const name = `app-${i}`;
    const body = aDeploymentResource({ namespace, name, replicas, annotations: { [RestartAnnotation.restartOnRotation]: 'true' } }) as unknown as V1Deployment;
    const deployment = await apps.createNamespacedDeployment({ namespace, body });
    // As the deployment controller would report a complete rollout, so that a restart is allowed.
    await apps.replaceNamespacedDeploymentStatus({
      namespace,
      name,
      body: { ...deployment, status: { observedGeneration: 1, replicas, updatedReplicas: replicas, readyReplicas: replicas, availableReplicas: replicas } },
    });
    const owner = controllerRef({ apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name, uid: deployment.metadata!.uid! } });
    const replicaSet = await apps.createNamespacedReplicaSet({ namespace, body: aReplicaSetResource({ namespace, name: `${name}-5d8f`, owner }) as unknown as V1ReplicaSet });
    for (let r = 0; r < replicas; r++) {
      const podOwner = controllerRef({ apiVersion: 'apps/v1', kind: 'ReplicaSet', metadata: { name: replicaSet.metadata!.name!, uid: replicaSet.metadata!.uid! } });
      const pod = await admin.putPod(aPodResource({ namespace, name: `${name}-5d8f-${r}`, ownerReferences: [podOwner] }));
      pods.push({ name: pod.metadata.name, uid: pod.metadata.uid! });
    }
  });
  const writeStatus = (pod: { name: string; uid: string }, version: string, rotatedAt?: number): Promise<unknown> =>
    statuses.save(
      {
        namespace,
        name: podStatusName(pod.name, namespace, 'app-secrets'),
        podName: pod.name,
        podUid: pod.uid,
        secretProviderClassName: 'app-secrets',
        mounted: true,
        targetPath: `/var/lib/kubelet/pods/${pod.uid}/volumes/kubernetes.io~csi/secrets/mount`,
        nodeName: 'node-1',
        objects: [{ id: 'db-password', version }],
        ...(rotatedAt !== undefined ? { rotation: { lastRotationTime: rotatedAt } } : {}),
      },
      { apiVersion: 'v1', kind: 'Pod', name: pod.name, uid: pod.uid },
    );
  await inBatches(pods, 20, (pod) => writeStatus(pod, 'v1'));
  await inBatches([...Array(secrets).keys()], 20, (i) =>
    core.createNamespacedSecret({ namespace, body: { metadata: { name: `synced-${i}`, labels: { [MANAGED_LABEL]: 'true' } }, stringData: { value: 'x'.repeat(1024) } } }),
  );

  const token = await core.createNamespacedServiceAccountToken({ namespace: 'kube-system', name: 'secrets-store-csi-restarter', body: { spec: { audiences: [], expirationSeconds: 3600 } } });
  const kubeconfig = join(work, 'restarter.kubeconfig');
  await writeFile(kubeconfig, plane.kubeConfigWithToken(token.status!.token).exportConfig(), { mode: 0o600 });
  restarter = CliProcess.start(
    ['restarter', '--kubeconfig', kubeconfig, '--metrics-addr', '127.0.0.1:0', '--health-addr', '127.0.0.1:0', '--debounce-window', '1s', '--cluster-restart-qps', '0', '-v', '5'],
    nodeOptions ? { NODE_OPTIONS: nodeOptions } : {},
    bundledMain(),
  );
  const pid = restarter.pid!;
  await restarter.waitForStderr(/leading: this process restarts workloads now/, 120_000);
  const settled = (count: number): Promise<void> =>
    (async () => {
      const deadline = Date.now() + 300_000;
      while ((restarter!.stderr.match(/no restart on rotation|restarted on rotation/g) ?? []).length < count) {
        if (Date.now() > deadline) throw new Error('the restarter did not decide every workload within 300 s');
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
    })();
  await settled(deployments);
  console.log(
    `leading, ${deployments} Deployments x ${replicas} pods (${pods.length} pod statuses), ${secrets} synced Secrets (NODE_OPTIONS=${nodeOptions || 'unset'}): ` +
      `peak RSS ${peakRssMiB(pid).toFixed(0)} MiB`,
  );

  const cpuBefore = cpuSeconds(pid);
  const started = Date.now();
  const rotatedAt = Date.now();
  await inBatches(pods, 20, (pod) => writeStatus(pod, 'v2', rotatedAt));
  const deadline = Date.now() + 300_000;
  for (;;) {
    const list = await apps.listNamespacedDeployment({ namespace });
    const restarted = list.items.filter((item) => item.spec?.template.metadata?.annotations?.[RestartAnnotation.restartedFor] !== undefined).length;
    if (restarted === deployments) break;
    if (Date.now() > deadline) throw new Error(`${restarted} of ${deployments} Deployments restarted within 300 s`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const seconds = (Date.now() - started) / 1000;
  console.log(
    `every pod status rotated, every Deployment restarted in ${seconds.toFixed(1)} s: peak RSS ${peakRssMiB(pid).toFixed(0)} MiB, ` +
      `CPU ${(((cpuSeconds(pid) - cpuBefore) / seconds) * 1000).toFixed(0)} millicores on average`,
  );
} finally {
  await restarter?.dispose();
  await plane.stop();
  await rm(work, { recursive: true, force: true });
}
