import { AppsV1Api, CoreV1Api, CustomObjectsApi, StorageV1Api, type V1OwnerReference, type V1Pod, type V1ReplicaSet } from '@kubernetes/client-node';
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CsiNodeClient, KubeletCsiClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { DRIVER_NAME } from '../../src/adapters/fake-kubelet/fake-kubelet.js';
import { PodWatchingKubelet } from '../../src/adapters/fake-kubelet/pod-watching-kubelet.js';
import type { CsiDriverShape } from '../../src/adapters/kube-objects/pod-feed.js';
import { ApiServerPodFeed } from '../../src/adapters/kubernetes/api-server-pod-feed.js';
import { delegatedCredentials } from '../../src/adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../src/adapters/kubernetes/kubernetes-client.js';
import { startFakeProvider, type FakeProviderControls } from '../../src/adapters/fake-provider/fake-provider-server.js';
import type { FakeFailure } from '../../src/adapters/fake-provider/fake-provider-state.js';
import type { EventResource, PodStatusResource, SecretProviderClassResource, SecretResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { isNotFound } from '../../src/adapters/kubernetes/api-errors.js';
import type { Logger } from '../../src/ports/logger.js';
import { eventually } from '../contract/eventually.js';
import { startControlPlane, type ControlPlaneBinaries, type ControlPlane } from '../support/control-plane.js';
import { CsiRecorder, type RecordedCall } from '../support/csi-recorder.js';
import { startHollowKubelet, type HollowKubelet } from '../support/hollow-kubelet.js';
import { PluginRegistrar } from '../support/plugin-registrar.js';
import { Admin, CSI, json, mergePatch } from '../support/kube-admin.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { CliProcess, mountsUnder, type Exit } from './processes.js';
import { readStateThroughControl, rotateThroughControl, setFailureThroughControl, type FakeProviderSnapshot } from './fake-provider-control.js';

export const NODE = 'node-1';
export const MANAGED = 'secrets-store.csi.k8s.io/managed';
export const NODE_LABEL = 'internal.secrets-store.csi.k8s.io/node-name';
export const VOLUME = 'secrets-store';

export const base64 = (text: string): string => Buffer.from(text).toString('base64');

export interface SecretObjectSpec {
  readonly secretName: string;
  readonly type: string;
  readonly labels?: Record<string, string>;
  readonly data: readonly { readonly objectName: string; readonly key: string }[];
}

export function classObject(namespace: string, name: string, objects: readonly string[], secretObjects: readonly SecretObjectSpec[] = []): SecretProviderClassResource {
  return {
    apiVersion: `${CSI.group}/v1`,
    kind: 'SecretProviderClass',
    metadata: { name, namespace },
    spec: {
      provider: 'fake',
      parameters: { objects: objects.map((object) => `- name: ${object}\n`).join('') },
      secretObjects: secretObjects.map((object) => ({ ...object, data: object.data.map((entry) => ({ ...entry })) })),
    },
  } as SecretProviderClassResource;
}

export interface PodOptions {
  readonly className: string;
  readonly owner?: V1OwnerReference;
  readonly readOnly?: boolean;
  readonly serviceAccountName?: string;
  readonly nodePublishSecretRef?: string;
  readonly nodeName?: string;
  /** `securityContext.fsGroup` of the pod. */
  readonly fsGroup?: number;
}

export interface KubeDriverEnvOptions {
  /** Changes to deploy/csidriver.yaml's spec (merge patch) before anything starts. */
  readonly csiDriver?: Partial<CsiDriverShape>;
  /**
   * The kubelet binary (kubemark) to run a real kubelet with instead of the in-process double. The
   * kubelet's root is then kubemark's, the driver's socket is where a DaemonSet puts it
   * (`<root>/plugins/<driver>/csi.sock`), a registrar announces it (through a CsiRecorder), and the
   * fake provider runs in this process, so the test can read the requests it got.
   */
  readonly kubemark?: string;
}

/**
 * One driver process on a real control plane, as production runs it: `driver --cluster kubernetes`
 * authenticated with its own ServiceAccount token (only deploy/rbac), deploy/csidriver.yaml, a fake
 * provider, and a kubelet for node-1 calling the driver over its CSI socket: by default the
 * PodWatchingKubelet double (fed by the API server), with `kubemark` a real kubelet. Fields are set as
 * `start` gets along, so `dispose` (in an after hook) cleans up whatever was started, even after a
 * failure.
 */
export class KubeDriverEnv {
  plane: ControlPlane | undefined;
  sandbox: TmpfsSandbox | undefined;
  provider: CliProcess | undefined;
  driver: CliProcess | undefined;
  client: CsiNodeClient | undefined;
  kubelet: PodWatchingKubelet | undefined;
  kubeletFeed: ApiServerPodFeed | undefined;
  /** The real kubelet, its registrar and what it sent (with `kubemark`). */
  hollow: HollowKubelet | undefined;
  registrar: PluginRegistrar | undefined;
  recorder: CsiRecorder | undefined;
  /** The fake provider when it runs in this process (with `kubemark`). */
  inProcessProvider: FakeProviderControls | undefined;
  controlUrl = '';
  csiSocket = '';
  /** What the fake kubelet logged (warnings about its watch and calls). */
  readonly kubeletLog: string[] = [];
  /** Driver processes stopped by `stopDriver`, oldest first (their logs stay in `logs()`). */
  private readonly stoppedDrivers: CliProcess[] = [];
  private adminApi: Admin | undefined;
  private driverCommand: readonly string[] = [];

  constructor(
    private readonly driverArgs: readonly string[] = [],
    private readonly options: KubeDriverEnvOptions = {},
  ) {}

  get admin(): Admin {
    return this.adminApi!;
  }

  get core(): CoreV1Api {
    return this.admin.core;
  }

  get custom(): CustomObjectsApi {
    return this.admin.custom;
  }

  get apps(): AppsV1Api {
    return this.plane!.adminKubeConfig().makeApiClient(AppsV1Api);
  }

  /** The kubelet's root directory (the driver's --kubelet-root). */
  get kubeletRoot(): string {
    return this.hollow?.root ?? this.sandbox!.kubeletRoot;
  }

  /** Where kubelet publishes a pod's volume of this driver. */
  targetPath(uid: string, volume = VOLUME): string {
    return join(this.kubeletRoot, 'pods', uid, 'volumes', 'kubernetes.io~csi', volume, 'mount');
  }

  async start(binaries: ControlPlaneBinaries): Promise<void> {
    this.plane = await startControlPlane(binaries);
    this.adminApi = new Admin(this.plane);
    for (const file of ['serviceaccount', 'base', 'secret-sync', 'secret-rotation', 'token-requests']) await this.admin.apply(`deploy/rbac/${file}.yaml`);
    await this.admin.apply('deploy/csidriver.yaml');
    if (this.options.csiDriver !== undefined) await this.patchCsiDriver(this.options.csiDriver);

    // The driver authenticates as its service account: it can do only what deploy/rbac grants.
    const token = await this.core.createNamespacedServiceAccountToken({
      namespace: 'kube-system',
      name: 'secrets-store-csi-driver',
      body: { spec: { audiences: [], expirationSeconds: 3600 } },
    });
    this.sandbox = await TmpfsSandbox.create('sscsi-kk-');
    const kubeconfig = join(this.sandbox.root, 'driver.kubeconfig');
    await writeFile(kubeconfig, this.plane.kubeConfigWithToken(token.status!.token).exportConfig(), { mode: 0o600 });
    const providers = join(this.sandbox.root, 'providers');
    await mkdir(providers);
    if (this.options.kubemark !== undefined) {
      // The real kubelet authenticates as the admin: the control plane has no node authorizer.
      this.hollow = await startHollowKubelet({ binary: this.options.kubemark, kubeconfigPath: this.plane.kubeconfigPath, nodeName: NODE });
      await mkdir(join(this.hollow.root, 'plugins', DRIVER_NAME), { recursive: true });
      this.csiSocket = join(this.hollow.root, 'plugins', DRIVER_NAME, 'csi.sock');
      this.inProcessProvider = await startFakeProvider({ socketPath: join(providers, 'fake.sock'), controlPort: 0 });
      this.controlUrl = this.inProcessProvider.controlUrl!;
    } else {
      this.csiSocket = join(this.sandbox.root, 'csi.sock');
      this.provider = CliProcess.start(['fake-provider', '--endpoint', `unix://${join(providers, 'fake.sock')}`, '--control-port', '0']);
      this.controlUrl = (await this.provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 20_000))[1]!;
    }
    this.driverCommand = [
      'driver',
      '--cluster', 'kubernetes',
      '--kubeconfig', kubeconfig,
      '--endpoint', `unix://${this.csiSocket}`,
      '--nodeid', NODE,
      '--provider-volume', providers,
      '--additional-provider-volume-paths=',
      '--kubelet-root', this.kubeletRoot,
      '--enable-secret-rotation',
      '--rotation-poll-interval', '1s',
      // Loopback and any free port: other test runs on this machine must not collide.
      '--metrics-addr', '127.0.0.1:0',
      ...((await driverHasFlag('health-addr')) ? ['--health-addr', '127.0.0.1:0'] : []),
      // Last: a flag given twice takes its last value, so the test's own arguments win.
      ...this.driverArgs,
    ];
    await this.startDriver();
    this.client = new CsiNodeClient(this.csiSocket);
    if (this.hollow !== undefined) {
      this.recorder = await CsiRecorder.start(join(this.hollow.root, 'plugins', DRIVER_NAME, 'kubelet.sock'), this.csiSocket);
      this.registrar = await PluginRegistrar.start(this.hollow.root, DRIVER_NAME, this.recorder.socketPath);
      const outcome = await this.registrar.registered(60_000).catch(this.withLogs);
      expect(outcome, `kubelet's registration of the driver${this.logs()}`).to.deep.equal({ registered: true, error: '' });
      return;
    }
    const logger = lineLogger(this.kubeletLog);
    this.kubeletFeed = new ApiServerPodFeed({ client: new KubernetesClient(delegatedCredentials(this.plane.adminKubeConfig())), nodeName: NODE, logger, retryDelayMs: 200, maxRetryDelayMs: 2_000 });
    this.kubelet = new PodWatchingKubelet({
      feed: this.kubeletFeed,
      volumes: new KubeletCsiClient(this.csiSocket),
      kubeletRoot: this.sandbox.kubeletRoot,
      retryDelayMs: 200,
      maxRetryDelayMs: 2_000,
      logger,
    });
    this.kubelet.start();
    await this.kubelet.whenSynced();
  }

  /** Changes the CSIDriver object's spec (a JSON merge patch), as `kubectl patch csidriver` does. */
  async patchCsiDriver(spec: Partial<CsiDriverShape>): Promise<void> {
    const storage = this.plane!.adminKubeConfig().makeApiClient(StorageV1Api);
    await storage.patchCSIDriver({ name: DRIVER_NAME, body: { spec } }, mergePatch());
  }

  /**
   * Starts a driver process with the arguments of the first (same socket, sandbox, kubeconfig and
   * flags), as a DaemonSet restarts its pod; resolves once its CSI socket is there.
   */
  async startDriver(): Promise<void> {
    if (this.driver?.running) throw new Error('a driver process is already running');
    const driver = CliProcess.start(this.driverCommand);
    this.driver = driver;
    await eventually(() => {
      if (!driver.running) throw new Error(`driver exited early${this.logs()}`);
      expect(existsSync(this.csiSocket), `no CSI socket yet${this.logs()}`).to.equal(true);
    }, 20_000, 25);
  }

  /** Stops the driver process as kubelet stops a container (SIGTERM) and resolves how it exited. */
  async stopDriver(): Promise<Exit> {
    const driver = this.driver!;
    this.stoppedDrivers.push(driver);
    return driver.stop('SIGTERM');
  }

  /** Stops everything that was started, in reverse order; never throws. */
  async dispose(): Promise<void> {
    const steps: (() => Promise<void> | void)[] = [
      () => withDeadline(this.kubelet?.unpublishAll(), 20_000),
      () => this.registrar?.stop(),
      () => this.recorder?.stop(),
      () => this.client?.close(),
      () => this.driver?.dispose(),
      ...this.stoppedDrivers.map((driver) => () => driver.dispose()),
      // After the driver: kubemark stops, then what is mounted under its root goes with it.
      () => this.hollow?.stop(),
      () => this.provider?.dispose(),
      () => this.inProcessProvider?.stop(),
      () => this.sandbox?.dispose(),
      () => this.plane?.stop(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        process.stderr.write(`cleanup step failed: ${error instanceof Error ? error.message : String(error)}\n`);
      }
    }
  }

  logs(): string {
    const stopped = this.stoppedDrivers.filter((driver) => driver !== this.driver).map((driver, index) => `\nstderr of stopped driver #${index + 1}:\n${driver.stderr}`);
    const kubelet = this.hollow ? `kubemark (last lines):\n${this.hollow.log().split('\n').slice(-60).join('\n')}` : `fake kubelet:\n${this.kubeletLog.join('\n')}`;
    return `${stopped.join('')}\ndriver stderr:\n${this.driver?.stderr ?? ''}\nprovider stderr:\n${this.provider?.stderr ?? ''}\n${kubelet}`;
  }

  /** Rethrows with the processes' logs appended (for `.catch` on waits). */
  readonly withLogs = (error: Error): never => {
    throw new Error(`${error.message}${this.logs()}`);
  };

  /** Rotates an object in the fake provider's store (to `contents` when given); resolves its new version. */
  async rotate(name: string, contents?: string): Promise<string> {
    return rotateThroughControl(this.controlUrl, name, contents);
  }

  /** Makes every Mount call of the fake provider fail the given way (undefined: answer normally again). */
  async providerFailure(failure: FakeFailure | undefined): Promise<void> {
    return setFailureThroughControl(this.controlUrl, failure);
  }

  async providerState(): Promise<FakeProviderSnapshot> {
    return readStateThroughControl(this.controlUrl);
  }

  async createNamespace(prefix: string): Promise<string> {
    const namespace = await this.plane!.createNamespace(prefix);
    await this.core.createNamespacedServiceAccount({ namespace, body: { metadata: { name: 'app' } } });
    return namespace;
  }

  async createReplicaSet(namespace: string, name: string, className: string): Promise<V1ReplicaSet> {
    const labels = { app: name };
    return this.apps.createNamespacedReplicaSet({
      namespace,
      body: {
        metadata: { name, namespace, labels },
        spec: {
          replicas: 2,
          selector: { matchLabels: labels },
          template: { metadata: { labels }, spec: podSpec({ className }) },
        },
      },
    });
  }

  /** Creates a pod on node-1 (unless told otherwise) with one inline volume of the driver. */
  async createPod(namespace: string, name: string, options: PodOptions): Promise<V1Pod> {
    return this.core.createNamespacedPod({
      namespace,
      body: {
        metadata: { name, namespace, ...(options.owner ? { labels: { app: options.owner.name }, ownerReferences: [options.owner] } : {}) },
        spec: { nodeName: options.nodeName ?? NODE, ...podSpec(options) },
      },
    });
  }

  /** Waits until the kubelet has published the pod's volume (the real one: a NodePublishVolume answered OK). */
  async waitMounted(uid: string, timeoutMs = 30_000): Promise<string> {
    if (this.recorder !== undefined) {
      const target = this.targetPath(uid);
      return eventually(() => {
        expect(this.publishes(uid).some((call) => call.code === 'OK'), `an answered NodePublishVolume for ${target}`).to.equal(true);
        return target;
      }, timeoutMs, 50).catch(this.withLogs);
    }
    return eventually(() => {
      const volume = this.kubelet!.volume(uid, VOLUME);
      expect(volume?.phase, `volume of pod ${uid}: ${JSON.stringify(volume)}`).to.equal('mounted');
      return volume!.targetPath;
    }, timeoutMs, 50).catch(this.withLogs);
  }

  /** Sets annotations on a pod (a JSON merge patch: others stay), as `kubectl annotate --overwrite` does. */
  async annotatePod(namespace: string, name: string, annotations: Record<string, string>): Promise<void> {
    await this.core.patchNamespacedPod({ namespace, name, body: { metadata: { annotations } } }, mergePatch());
  }

  /** Sets annotations on a SecretProviderClass (a JSON merge patch: others stay). */
  async annotateClass(namespace: string, name: string, annotations: Record<string, string>): Promise<void> {
    await this.custom.patchNamespacedCustomObject({ ...CSI, namespace, plural: 'secretproviderclasses', name, body: { metadata: { annotations } } }, mergePatch());
  }

  async readPodStatus(namespace: string, name: string): Promise<PodStatusResource | undefined> {
    return this.admin.readPodStatusObject(namespace, name);
  }

  async readSecret(namespace: string, name: string): Promise<SecretResource | undefined> {
    return this.admin.readSecret(namespace, name);
  }

  async events(namespace: string, reason?: string): Promise<EventResource[]> {
    const events = await this.admin.readEvents(namespace);
    return reason === undefined ? events : events.filter((event) => event.reason === reason);
  }

  async podExists(namespace: string, name: string): Promise<boolean> {
    try {
      await this.core.readNamespacedPod({ namespace, name });
      return true;
    } catch (error) {
      if (isNotFound(error)) return false;
      throw error;
    }
  }

  /** The NodePublishVolume calls the real kubelet made for the pod's volume, in order. */
  publishes(uid: string, volume = VOLUME): RecordedCall[] {
    const target = this.targetPath(uid, volume);
    return this.recorder!.calls('NodePublishVolume').filter((call) => call.request['targetPath'] === target);
  }

  /** Mount points under the kubelet root. */
  mounts(): string[] {
    return mountsUnder(this.kubeletRoot);
  }

  /** The file names and contents at a target (empty when the directory does not exist, or stops existing while read). */
  async files(target: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    try {
      for (const name of (await readdir(target)).filter((entry) => !entry.startsWith('..'))) out[name] = await readFile(join(target, name), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return out;
      throw error;
    }
    return out;
  }
}

function podSpec(options: PodOptions): V1Pod['spec'] & object {
  return {
    serviceAccountName: options.serviceAccountName ?? 'app',
    ...(options.fsGroup !== undefined ? { securityContext: { fsGroup: options.fsGroup } } : {}),
    // kubelet sets up only the volumes a container mounts.
    containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10', volumeMounts: [{ name: VOLUME, mountPath: '/mnt/secrets-store', readOnly: true }] }],
    volumes: [
      {
        name: VOLUME,
        csi: {
          driver: DRIVER_NAME,
          ...(options.readOnly === false ? {} : { readOnly: true }),
          volumeAttributes: { secretProviderClass: options.className },
          ...(options.nodePublishSecretRef ? { nodePublishSecretRef: { name: options.nodePublishSecretRef } } : {}),
        },
      },
    ],
  };
}

export function ownerReference(replicaSet: V1ReplicaSet): V1OwnerReference {
  return { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet.metadata!.name!, uid: replicaSet.metadata!.uid!, controller: true, blockOwnerDeletion: true };
}

/** Whether the compiled driver knows `--<flag>` (flags other sessions add may not be there yet). */
async function driverHasFlag(flag: string): Promise<boolean> {
  const help = CliProcess.start(['driver', '--help']);
  await help.waitForExit(20_000);
  return help.stdout.includes(`--${flag}`);
}

function lineLogger(lines: string[]): Logger {
  const write = (level: string) => (message: string, fields?: Readonly<Record<string, unknown>>) => {
    lines.push(`${new Date().toISOString()} ${level} ${message}${fields ? ` ${JSON.stringify(fields)}` : ''}`);
  };
  return { debug: write('DEBUG'), info: write('INFO'), warn: write('WARN'), error: write('ERROR') };
}

async function withDeadline(promise: Promise<void> | undefined, ms: number): Promise<void> {
  if (promise === undefined) return;
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([promise, new Promise<void>((_, reject) => (timer = setTimeout(() => reject(new Error(`not done within ${ms} ms`)), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export { eventually, json };
