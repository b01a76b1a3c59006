import { Server, ServerCredentials, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import { expect } from 'chai';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KubeletCsiClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { PodWatchingKubelet } from '../../src/adapters/fake-kubelet/pod-watching-kubelet.js';
import { startCsiServer, type CsiServer } from '../../src/adapters/csi-grpc/csi-server.js';
import { DEPLOYED_CSI_DRIVER } from '../../src/adapters/kube-objects/pod-feed.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryPodFeed } from '../../src/adapters/memory-cluster/memory-pod-feed.js';
import { loadCsiProtos } from '../../src/gen/load.js';
import type { NodeVolumes } from '../../src/ports/node-volumes.js';
import { eventually } from '../contract/eventually.js';
import { aPodResource } from '../support/cluster-builders.js';
import { CsiRecorder } from '../support/csi-recorder.js';
import { KUBELET_V1_34_WIRE, kubeletWireOf } from '../support/kubelet-wire.js';
import { CollectingLogger } from '../support/driver-harness.js';

const DRIVER = 'secrets-store.csi.k8s.io';
const NODE = 'node-1';
/** Generous: the machine running the suite may be loaded. */
const WAIT_MS = 20_000;

/**
 * The kubelet double over a real CSI socket, recorded the way test/e2e/real-kubelet.test.ts records
 * kubelet v1.34.4: the same pod life (publish, republishes on pod syncs, unpublish) must give the same
 * wire, except registration (kubelet's plugin watcher, which the double, handed the socket, has not).
 */
describe('the kubelet double sends what kubelet v1.34 sends (KUBELET_V1_34_WIRE)', function () {
  this.timeout(90_000);
  let dir: string;
  let server: CsiServer | undefined;
  let recorder: CsiRecorder | undefined;
  let kubelet: PodWatchingKubelet | undefined;

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kubelet-wire-'));
  });
  afterEach(async () => {
    await kubelet?.stop();
    await recorder?.stop();
    await server?.stop(0);
    await rm(dir, { recursive: true, force: true });
  });

  it('over one pod\'s life: the same calls, connections, requests and republishes', async () => {
    const driver: NodeVolumes = { publish: async () => undefined, unpublish: async () => undefined };
    server = await startCsiServer({ endpoint: `unix://${join(dir, 'csi.sock')}`, driverName: DRIVER, version: '1', nodeId: NODE, volumes: driver, logger: new CollectingLogger() });
    recorder = await CsiRecorder.start(join(dir, 'kubelet.sock'), server.address);
    const cluster = new InMemoryCluster();
    const csiDrivers = { [DRIVER]: { ...DEPLOYED_CSI_DRIVER, tokenRequests: [{ audience: 'vault', expirationSeconds: 600 }] } };
    const feed = new MemoryPodFeed({ cluster, nodeName: NODE, clock: { now: () => Date.now() }, csiDrivers });
    const root = join(dir, 'kubelet');
    kubelet = new PodWatchingKubelet({ feed, volumes: new KubeletCsiClient(recorder.socketPath), kubeletRoot: root, firstResyncMs: () => 10, syncFrequencyMs: 50 });
    kubelet.start();
    const uid = cluster.create(aPodResource({ namespace: 'ns', name: 'app-0', nodeName: NODE })).metadata.uid!;
    const target = kubelet.targetPath(uid, 'secrets');
    const publishes = (): number => recorder!.calls('NodePublishVolume').filter((call) => call.code === 'OK').length;
    await eventually(() => expect(publishes()).to.be.at.least(3), WAIT_MS);
    cluster.delete('Pod', 'ns', 'app-0');
    await eventually(() => expect(recorder!.calls('NodeUnpublishVolume').map((call) => call.code)).to.deep.equal(['OK']), WAIT_MS);
    await eventually(() => expect(recorder!.timeline.filter((entry) => entry.kind === 'close')).to.have.length(recorder!.calls().length), WAIT_MS);

    expect(kubeletWireOf(recorder.timeline, target)).to.deep.equal({ ...KUBELET_V1_34_WIRE, registration: [] });
  });

  it('passes a pod\'s fsGroup as volume_mount_group to a driver that advertises VOLUME_MOUNT_GROUP, and to no other', async () => {
    const withGroup = aPodResource({ namespace: 'ns', name: 'grouped-0', nodeName: NODE });
    const pod = { ...withGroup, spec: { ...withGroup.spec, securityContext: { fsGroup: 2000 } } };
    /** What the driver at `socket` got as volume_mount_group when the double published the pod. */
    const sentGroup = async (socket: string): Promise<string | undefined> => {
      const before = received.length;
      const cluster = new InMemoryCluster();
      const feed = new MemoryPodFeed({ cluster, nodeName: NODE, clock: { now: () => Date.now() }, csiDrivers: { [DRIVER]: { ...DEPLOYED_CSI_DRIVER } } });
      kubelet = new PodWatchingKubelet({ feed, volumes: new KubeletCsiClient(socket), kubeletRoot: join(dir, 'kubelet'), firstResyncMs: () => 3_600_000 });
      kubelet.start();
      cluster.create(pod);
      await eventually(() => expect(received).to.have.length(before + 1), WAIT_MS);
      await kubelet.stop();
      return received.at(-1);
    };
    const received: (string | undefined)[] = [];
    const driver: NodeVolumes = { publish: async (command) => void received.push(command.volumeMountGroup), unpublish: async () => undefined };
    server = await startCsiServer({ endpoint: `unix://${join(dir, 'csi.sock')}`, driverName: DRIVER, version: '1', nodeId: NODE, volumes: driver, logger: new CollectingLogger() });
    expect(await sentGroup(server.address)).to.equal('2000');

    // A node service that advertises no capability: the group is not sent.
    const plain = new Server();
    const nodeService = loadCsiProtos().csi.v1.Node.service as ServiceDefinition;
    const implementation: UntypedServiceImplementation = {
      NodeGetCapabilities: (_call: unknown, callback: (error: null, response: object) => void) => callback(null, { capabilities: [] }),
      NodePublishVolume: (call: { request: { volumeCapability: { mount: { volumeMountGroup: string } } } }, callback: (error: null, response: object) => void) => {
        received.push(call.request.volumeCapability.mount.volumeMountGroup || undefined);
        callback(null, {});
      },
    };
    plain.addService(nodeService, implementation);
    const plainSocket = join(dir, 'plain.sock');
    await new Promise<void>((resolve, reject) => plain.bindAsync(`unix://${plainSocket}`, ServerCredentials.createInsecure(), (error) => (error ? reject(error) : resolve())));
    try {
      expect(await sentGroup(plainSocket)).to.equal(undefined);
    } finally {
      plain.forceShutdown();
    }
  });
});
