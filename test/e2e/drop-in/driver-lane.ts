import { AppsV1Api, type V1OwnerReference } from '@kubernetes/client-node';
import { credentials, status, type ServiceError } from '@grpc/grpc-js';
import { mkdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { CsiNodeClient } from '../../../src/adapters/fake-kubelet/csi-node-client.js';
import { DRIVER_NAME, FakeKubelet, type FakePod } from '../../../src/adapters/fake-kubelet/fake-kubelet.js';
import type { PodStatusResource, SecretProviderClassResource, SecretResource } from '../../../src/adapters/kube-objects/object-shapes.js';
import type { PublishCommand } from '../../../src/domain/volume-binding.js';
import type { ControllerClient } from '../../../src/gen/csi/v1/Controller.js';
import type { IdentityClient } from '../../../src/gen/csi/v1/Identity.js';
import type { NodeClient } from '../../../src/gen/csi/v1/Node.js';
import type { NodePublishVolumeRequest } from '../../../src/gen/csi/v1/NodePublishVolumeRequest.js';
import { loadCsiProtos } from '../../../src/gen/load.js';
import type { ControlPlane } from '../../support/control-plane.js';
import { Admin, CSI, mergePatch } from '../../support/kube-admin.js';
import { TmpfsSandbox } from '../../support/tmpfs-sandbox.js';
import type { NodeDriver, NodeDriverSetup } from '../node-drivers.js';

/** The pods' inline volume. */
export const VOLUME = 'secrets-store';
const UUID = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g;
const TIME = /\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z/g;

/** A CSI call's outcome: the gRPC status name (`OK` when it succeeded) and message. */
export interface CallAnswer {
  readonly code: string;
  readonly message: string;
}

function answerOf(error: ServiceError | null): CallAnswer {
  return error ? { code: status[error.code] ?? String(error.code), message: error.details } : { code: 'OK', message: '' };
}

/** How a lane starts its driver: the upstream binary or this driver, given the lane's setup. */
export type StartDriver = (setup: NodeDriverSetup) => Promise<NodeDriver>;

/**
 * One driver on the shared control plane, as one node: its own node name, namespace, kubelet root (a tmpfs
 * sandbox) and CSI socket, a fake kubelet calling it the way kubelet does, and raw CSI clients for requests
 * kubelet would never send. Two lanes (upstream, this driver) run the same steps side by side.
 */
export class DriverLane {
  readonly admin: Admin;
  readonly apps: AppsV1Api;
  readonly pods = new Map<string, FakePod>();
  private readonly uids = new Map<string, string>();
  sandbox: TmpfsSandbox | undefined;
  driver: NodeDriver | undefined;
  client: CsiNodeClient | undefined;
  kubelet: FakeKubelet | undefined;
  node: NodeClient | undefined;
  identity: IdentityClient | undefined;
  controller: ControllerClient | undefined;
  namespace = '';

  constructor(
    readonly name: string,
    readonly nodeId: string,
    private readonly plane: ControlPlane,
    private readonly providerDir: string,
  ) {
    this.admin = new Admin(plane);
    this.apps = plane.adminKubeConfig().makeApiClient(AppsV1Api);
  }

  /** Creates the lane's namespace and sandbox and starts its driver (rotation on, at `rotationPollInterval`). */
  async start(startDriver: StartDriver, rotationPollInterval: string, extraArgs: readonly string[] = []): Promise<void> {
    this.namespace = await this.plane.createNamespace(`dropin-${this.name}`);
    this.sandbox = await TmpfsSandbox.create(`sscsi-dropin-${this.name}-`);
    // The fake kubelet outlives driver restarts; it calls whichever driver serves the socket now.
    this.kubelet = new FakeKubelet(
      { publish: (command) => this.client!.publish(command), unpublish: (command) => this.client!.unpublish(command) },
      this.sandbox.kubeletRoot,
    );
    await this.startDriver(startDriver, rotationPollInterval, extraArgs);
  }

  get socket(): string {
    return join(this.sandbox!.root, 'csi.sock');
  }

  /**
   * Starts a driver on the lane's socket, node and kubelet root (the one before must have stopped) and connects
   * fresh clients to it, as kubelet dials the socket again.
   */
  async startDriver(startDriver: StartDriver, rotationPollInterval: string, extraArgs: readonly string[] = []): Promise<void> {
    this.driver = await startDriver({
      socket: this.socket,
      nodeId: this.nodeId,
      providerDir: this.providerDir,
      kubeconfig: this.plane.kubeconfigPath,
      kubeletRoot: this.sandbox!.kubeletRoot,
      rotationPollInterval,
      extraArgs,
    });
    this.closeClients();
    const protos = loadCsiProtos().csi.v1;
    this.client = new CsiNodeClient(this.socket);
    this.node = new protos.Node(`unix://${this.socket}`, credentials.createInsecure());
    this.identity = new protos.Identity(`unix://${this.socket}`, credentials.createInsecure());
    this.controller = new protos.Controller(`unix://${this.socket}`, credentials.createInsecure());
  }

  /** Stops the lane's driver as kubelet stops a container (SIGTERM); the mounts stay. */
  async stopDriver(): Promise<void> {
    await this.driver?.stop();
  }

  /** Replaces names, uids, paths and times that differ between lanes and runs by placeholders. */
  readonly normalise = (text: string): string => {
    let out = text;
    if (this.sandbox) out = out.split(this.sandbox.root).join('<root>');
    if (this.namespace) out = out.split(this.namespace).join('<namespace>');
    out = out.split(this.nodeId).join('<node>');
    return out.replace(UUID, (uid) => `<uid of ${this.uids.get(uid) ?? 'an object'}>`).replace(TIME, '<time>');
  };

  /** Names a uid for normalised output (`<uid of pod app-0>`). */
  nameUid(uid: string, what: string): void {
    this.uids.set(uid, what);
  }

  async createClass(name: string, spec: SecretProviderClassResource['spec']): Promise<void> {
    await this.admin.putClass({ apiVersion: `${CSI.group}/v1`, kind: 'SecretProviderClass', metadata: { name, namespace: this.namespace }, spec });
  }

  /** Replaces a class's parameters (a merge patch), as `kubectl edit` would. */
  async patchClassParameters(name: string, parameters: Record<string, string>): Promise<void> {
    await this.admin.custom.patchNamespacedCustomObject(
      { ...CSI, namespace: this.namespace, plural: 'secretproviderclasses', name, body: { spec: { parameters } } },
      mergePatch(),
    );
  }

  /** A ReplicaSet with no replicas, to own pods (the garbage collector deletes pods whose owner is missing). */
  async createOwner(name: string): Promise<V1OwnerReference> {
    const labels = { app: name };
    const replicaSet = await this.apps.createNamespacedReplicaSet({
      namespace: this.namespace,
      body: {
        metadata: { name, labels },
        spec: { replicas: 0, selector: { matchLabels: labels }, template: { metadata: { labels }, spec: { containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }] } } },
      },
    });
    this.nameUid(replicaSet.metadata!.uid!, `replicaset ${name}`);
    return { apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid: replicaSet.metadata!.uid!, controller: true, blockOwnerDeletion: true };
  }

  /** Creates a pod on this lane's node with one inline volume of the driver naming `className`. */
  async createPod(name: string, className: string, owner?: V1OwnerReference): Promise<FakePod> {
    const pod = await this.admin.core.createNamespacedPod({
      namespace: this.namespace,
      body: {
        metadata: { name, ...(owner ? { labels: { app: owner.name }, ownerReferences: [owner] } : {}) },
        spec: {
          nodeName: this.nodeId,
          containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
          volumes: [{ name: VOLUME, csi: { driver: DRIVER_NAME, readOnly: true, volumeAttributes: { secretProviderClass: className } } }],
        },
      },
    });
    this.nameUid(pod.metadata!.uid!, `pod ${name}`);
    const fake: FakePod = {
      namespace: this.namespace,
      name,
      uid: pod.metadata!.uid!,
      serviceAccountName: 'default',
      volumes: [{ name: VOLUME, volumeAttributes: { secretProviderClass: className } }],
    };
    this.pods.set(name, fake);
    return fake;
  }

  target(podName: string): string {
    return this.kubelet!.targetPath(this.pods.get(podName)!, VOLUME);
  }

  /** kubelet's publish command for a pod's volume, its volume directory created (as kubelet leaves it before the call). */
  async publishCommand(podName: string): Promise<PublishCommand> {
    const pod = this.pods.get(podName)!;
    const command = await this.kubelet!.publishCommand(pod, pod.volumes[0]!);
    await mkdir(dirname(command.targetPath), { recursive: true });
    return command;
  }

  /** Sends a raw NodePublishVolume; resolves its status (`OK` when it succeeded). */
  rawPublish(request: NodePublishVolumeRequest, timeoutMs = 30_000): Promise<CallAnswer> {
    return new Promise((resolve) => {
      this.node!.nodePublishVolume(request, { deadline: Date.now() + timeoutMs }, (error: ServiceError | null) => resolve(answerOf(error)));
    });
  }

  /** Sends a raw NodeUnpublishVolume; resolves its status. */
  rawUnpublish(request: { volumeId: string; targetPath: string }, timeoutMs = 30_000): Promise<CallAnswer> {
    return new Promise((resolve) => {
      this.node!.nodeUnpublishVolume(request, { deadline: Date.now() + timeoutMs }, (error: ServiceError | null) => resolve(answerOf(error)));
    });
  }

  async readPodStatus(podName: string): Promise<PodStatusResource | undefined> {
    return this.admin.readPodStatusObject(this.namespace, `${podName}-${this.namespace}-${this.pods.get(podName)!.volumes[0]!.volumeAttributes['secretProviderClass']}`);
  }

  async readSecret(name: string): Promise<SecretResource | undefined> {
    return this.admin.readSecret(this.namespace, name);
  }

  async events(): Promise<ReturnType<Admin['readEvents']>> {
    return this.admin.readEvents(this.namespace);
  }

  async scrapeMetrics(): Promise<string> {
    return (await fetch(this.driver!.metricsUrl)).text();
  }

  logs(): string {
    return `\n--- ${this.driver?.name ?? this.name} stderr ---\n${this.driver?.process.stderr ?? ''}`;
  }

  async dispose(): Promise<void> {
    this.closeClients();
    await this.driver?.dispose();
    await this.sandbox?.dispose();
  }

  private closeClients(): void {
    for (const client of [this.client, this.node, this.identity, this.controller]) client?.close();
  }
}

