// Node-agent footprint benchmark, the source of the DaemonSet's resource figures: the driver process with
// `--cluster kubernetes` against the real control plane of test/support/control-plane.ts, N running pods on one
// node using a class that syncs a Secret, every pod published over the CSI socket by the fake kubelet, then
// rotation checks for --hold while the fake provider moves a secret's version on every 5 s. Prints the
// driver's peak RSS (VmHWM) after start, after the publishes and after the hold, and its average CPU use
// during the hold. Needs root (tmpfs mounts) and test/control-plane/build-binaries.sh.
//   node .build/x/bench/node-rss.js --pods 110 --rotation-poll-interval 2s --hold 60s --node-options=--max-old-space-size=128
import 'reflect-metadata';
import { CoreV1Api, CustomObjectsApi, type V1Pod } from '@kubernetes/client-node';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CsiNodeClient } from '../src/adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, type FakePod } from '../src/adapters/fake-kubelet/fake-kubelet.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { bundledMain, CliProcess, sleep } from '../test/e2e/processes.js';
import { startControlPlane } from '../test/support/control-plane.js';
import { Admin, CSI } from '../test/support/kube-admin.js';
import { cpuSeconds, daemonSetTuning, peakRssMiB } from './bench-support.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'pods', kind: 'int', default: 110, help: 'running pods on the node (kubelet default maximum: 110)' },
  { name: 'c', kind: 'int', default: 10, help: 'concurrent publishes' },
  { name: 'rotation-poll-interval', kind: 'string', default: '2s', help: 'the driver flag' },
  { name: 'hold', kind: 'duration', default: 60_000, help: 'time of rotation after the publishes' },
  { name: 'node-options', kind: 'string', default: '', help: 'NODE_OPTIONS of the driver process, e.g. --max-old-space-size=128' },
];

const options = parseFlags(FLAGS, process.argv.slice(2));
const podCount = options['pods'] as number;
const concurrency = options['c'] as number;
const holdMs = options['hold'] as number;
const interval = options['rotation-poll-interval'] as string;
const nodeOptions = options['node-options'] as string;


const plane = await startControlPlane();
const work = await mkdtemp(join(tmpdir(), 'sscsi-rss-'));
let driver: CliProcess | undefined;
let provider: CliProcess | undefined;
let client: CsiNodeClient | undefined;
let kubelet: FakeKubelet | undefined;
try {
  const core = plane.adminKubeConfig().makeApiClient(CoreV1Api);
  const custom = plane.adminKubeConfig().makeApiClient(CustomObjectsApi);
  const admin = new Admin(plane);
  for (const file of ['serviceaccount', 'base', 'secret-sync', 'token-requests']) await admin.apply(`deploy/rbac/${file}.yaml`);
  const namespace = await plane.createNamespace('rss');
  await custom.createNamespacedCustomObject({
    ...CSI,
    namespace,
    plural: 'secretproviderclasses',
    body: {
      apiVersion: `${CSI.group}/v1`,
      kind: 'SecretProviderClass',
      metadata: { name: 'app-secrets', namespace },
      spec: {
        provider: 'fake',
        parameters: { objects: '- name: db-password\n- name: api-key\n' },
        secretObjects: [{ secretName: 'app-credentials', type: 'Opaque', data: [{ objectName: 'db-password', key: 'password' }] }],
      },
    },
  });
  const pods: FakePod[] = [];
  for (let i = 0; i < podCount; i++) {
    const name = `app-${i}`;
    const volumes = [{ name: 'secrets-store', volumeAttributes: { secretProviderClass: 'app-secrets' } }];
    const body = {
      metadata: { name, namespace },
      spec: {
        nodeName: 'node-1',
        containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        volumes: volumes.map((v) => ({ name: v.name, csi: { driver: 'secrets-store.csi.k8s.io', readOnly: true, volumeAttributes: v.volumeAttributes } })),
      },
    } as V1Pod;
    const created = await core.createNamespacedPod({ namespace, body });
    await core.replaceNamespacedPodStatus({ namespace, name, body: { ...created, status: { ...created.status, phase: 'Running' } } });
    pods.push({ namespace, name, uid: created.metadata!.uid!, serviceAccountName: 'default', volumes });
  }

  const kubeletRoot = join(work, 'kubelet');
  const providers = join(work, 'providers');
  await mkdir(providers, { recursive: true });
  provider = CliProcess.start(['fake-provider', '--endpoint', `unix://${providers}/fake.sock`, '--control-port', '0']);
  const controlUrl = (await provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
  const socket = join(work, 'csi.sock');
  driver = CliProcess.start(
    [
      'driver', '--cluster', 'kubernetes', '--kubeconfig', plane.kubeconfigPath, '--endpoint', `unix://${socket}`, '--nodeid', 'node-1',
      '--provider-volume', providers, '--additional-provider-volume-paths=', '--kubelet-root', kubeletRoot,
      '--metrics-addr=127.0.0.1:0', '--health-addr=127.0.0.1:0', '--enable-secret-rotation', '--rotation-poll-interval', interval,
    ],
    { ...daemonSetTuning(), ...(nodeOptions ? { NODE_OPTIONS: nodeOptions } : {}) },
    bundledMain(),
  );
  while (!existsSync(socket)) {
    if (!driver.running) throw new Error(`driver exited:\n${driver.stderr}`);
    await sleep(50);
  }
  await sleep(3_000);
  const pid = driver.pid!;
  console.log(`driver started (NODE_OPTIONS=${nodeOptions || 'unset'}): peak RSS ${peakRssMiB(pid).toFixed(0)} MiB`);

  client = new CsiNodeClient(socket);
  kubelet = new FakeKubelet(client, kubeletRoot, { nodeName: 'node-1' });
  let next = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < pods.length) await kubelet!.startPod(pods[next++]!);
    }),
  );
  console.log(`${podCount} pods published (C=${concurrency}) in ${Date.now() - started} ms: peak RSS ${peakRssMiB(pid).toFixed(0)} MiB`);

  const cpuBefore = cpuSeconds(pid);
  const holdStart = Date.now();
  while (Date.now() - holdStart < holdMs) {
    await fetch(`${controlUrl}/rotate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name: 'db-password' }) });
    await sleep(5_000);
  }
  const millicores = ((cpuSeconds(pid) - cpuBefore) / ((Date.now() - holdStart) / 1000)) * 1000;
  console.log(
    `after ${holdMs / 1000} s of rotation every ${interval} (a new version every 5 s): peak RSS ${peakRssMiB(pid).toFixed(0)} MiB, ` +
      `CPU ${millicores.toFixed(0)} millicores on average`,
  );
} finally {
  // Unpublish through the driver: it unmounts every tmpfs it mounted.
  await kubelet?.deleteAll();
  client?.close();
  await driver?.dispose();
  await provider?.dispose();
  await plane.stop();
  await rm(work, { recursive: true, force: true });
}
