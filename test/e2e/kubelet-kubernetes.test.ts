import type { V1Pod, V1ReplicaSet } from '@kubernetes/client-node';
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { volumeDataFile, volumeId } from '../../src/adapters/fake-kubelet/kubelet-volume.js';
import { PodWatchingKubelet } from '../../src/adapters/fake-kubelet/pod-watching-kubelet.js';
import { ApiServerPodFeed } from '../../src/adapters/kubernetes/api-server-pod-feed.js';
import { delegatedCredentials } from '../../src/adapters/kubernetes/api-credentials.js';
import { KubernetesClient } from '../../src/adapters/kubernetes/kubernetes-client.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import type { NodeVolumes, UnpublishCommand } from '../../src/ports/node-volumes.js';
import { requireControlPlaneBinaries } from '../support/control-plane.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { base64, classObject, eventually, KubeDriverEnv, MANAGED, NODE, NODE_LABEL, ownerReference, VOLUME } from './kube-driver-env.js';

const CLASS = 'web-secrets';
const SECRET = 'web-credentials';
// The fake provider's store is shared by every test of the process: object names are unique per file.
const PASSWORD = 'kk-db-password';
const API_KEY = 'kk-api-key';

/**
 * The end-to-end scenario on a real kube-apiserver + etcd + kube-controller-manager (garbage
 * collector): the driver process as its ServiceAccount, the fake provider, and a fake kubelet that
 * learns its pods from the API server (watch on spec.nodeName=node-1) and calls the driver over the
 * CSI socket. A ReplicaSet owns two pods; deleting it lets the garbage collector take everything.
 */
describe('e2e: pod-watching kubelet + driver --cluster kubernetes on a real API server', function () {
  this.timeout(180_000);
  const env = new KubeDriverEnv();

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    await env.start(binaries);
  });

  after(async () => {
    await env.dispose();
  });

  describe('scenario: a class with secretObjects, a ReplicaSet and two pods on node-1', () => {
    let namespace: string;
    let replicaSet: V1ReplicaSet;
    let pods: V1Pod[] = [];
    const uid = (pod: V1Pod): string => pod.metadata!.uid!;
    const name = (pod: V1Pod): string => pod.metadata!.name!;
    const statusName = (pod: V1Pod): string => `${name(pod)}-${namespace}-${CLASS}`;
    const target = (pod: V1Pod): string => env.kubelet!.targetPath(uid(pod), VOLUME);

    before(async () => {
      namespace = await env.createNamespace('kk');
      await env.admin.putClass(
        classObject(namespace, CLASS, [PASSWORD, API_KEY], [
          { secretName: SECRET, type: 'Opaque', labels: { app: 'web' }, data: [{ objectName: PASSWORD, key: 'password' }] },
        ]),
      );
      replicaSet = await env.createReplicaSet(namespace, 'web-7d4b9c', CLASS);
      for (const podName of ['web-7d4b9c-a1', 'web-7d4b9c-b2']) {
        pods.push(await env.createPod(namespace, podName, { className: CLASS, owner: ownerReference(replicaSet) }));
      }
    });

    it('the fake kubelet publishes both pods it sees in the API server: files on a tmpfs at each target', async () => {
      for (const pod of pods) expect(await env.waitMounted(uid(pod))).to.equal(target(pod));
      for (const pod of pods) {
        expect(await env.files(target(pod))).to.deep.equal({ [PASSWORD]: `${PASSWORD}-v1`, [API_KEY]: `${API_KEY}-v1` });
        const written = await readFile(join(target(pod), '..', 'vol_data.json'), 'utf8');
        expect(written).to.equal(volumeDataFile('secrets-store.csi.k8s.io', NODE, uid(pod), VOLUME));
        expect(JSON.parse(written)).to.include({ volumeHandle: volumeId(uid(pod), VOLUME), nodeName: NODE, specVolID: VOLUME, volumeLifecycleMode: 'Ephemeral' });
      }
      expect(env.mounts().sort()).to.deep.equal(pods.map(target).sort());
      expect(env.kubelet!.journal.filter((entry) => entry.op === 'publish' && entry.ok).map((entry) => entry.podUid).sort()).to.deep.equal(pods.map(uid).sort());
    });

    it('records one SecretProviderClassPodStatus per pod: <pod>-<ns>-<class>, object versions, node label, owned by the pod', async () => {
      for (const pod of pods) {
        const status = await env.readPodStatus(namespace, statusName(pod));
        expect(status, `${statusName(pod)}${env.logs()}`).not.to.equal(undefined);
        expect(status!.metadata.labels).to.include({ [NODE_LABEL]: NODE });
        expect(status!.metadata.ownerReferences).to.deep.equal([{ apiVersion: 'v1', kind: 'Pod', name: name(pod), uid: uid(pod) }]);
        expect(status!.status).to.deep.equal({
          podName: name(pod),
          secretProviderClassName: CLASS,
          mounted: true,
          targetPath: target(pod),
          objects: [
            { id: API_KEY, version: 'v1' },
            { id: PASSWORD, version: 'v1' },
          ],
        });
      }
    });

    it('syncs the Secret: managed label, type, data, and owned by the ReplicaSet (the pods\' owner)', async () => {
      const secret = await env.readSecret(namespace, SECRET);
      expect(secret, env.logs()).not.to.equal(undefined);
      expect(secret!.type).to.equal('Opaque');
      expect(secret!.data).to.deep.equal({ password: base64(`${PASSWORD}-v1`) });
      expect(secret!.metadata.labels).to.deep.equal({ app: 'web', [MANAGED]: 'true' });
      expect(secret!.metadata.ownerReferences!.map(({ apiVersion, kind, name: owner, uid: ownerUid }) => ({ apiVersion, kind, name: owner, uid: ownerUid }))).to.deep.equal([
        { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: replicaSet.metadata!.name, uid: replicaSet.metadata!.uid },
      ]);
    });

    it('rotates in the provider: files, Secret, pod status versions and Mount/SecretRotationComplete events change', async () => {
      expect(await env.rotate(PASSWORD)).to.equal('v2');
      await eventually(async () => {
        for (const pod of pods) {
          expect(await readFile(join(target(pod), PASSWORD), 'utf8')).to.equal(`${PASSWORD}-v2`);
          expect((await env.readPodStatus(namespace, statusName(pod)))!.status!.objects).to.deep.equal([
            { id: API_KEY, version: 'v1' },
            { id: PASSWORD, version: 'v2' },
          ]);
        }
        expect((await env.readSecret(namespace, SECRET))!.data).to.deep.equal({ password: base64(`${PASSWORD}-v2`) });
        const mountEvents = await env.events(namespace, 'MountRotationComplete');
        expect(mountEvents.map((event) => event.involvedObject.uid).sort()).to.include.members(pods.map(uid));
        for (const event of mountEvents) expect(event.type).to.equal('Normal');
        // The Secret is shared: the first pod's rotation changes it, the second finds it done.
        const secretEvents = await env.events(namespace, 'SecretRotationComplete');
        expect(secretEvents.length).to.be.greaterThan(0);
        expect(pods.map(uid)).to.include(secretEvents[0]!.involvedObject.uid);
        expect(secretEvents[0]!.message).to.include(SECRET);
      }, 30_000, 100).catch(env.withLogs);
      // Untouched objects keep their files.
      for (const pod of pods) expect(await readFile(join(target(pod), API_KEY), 'utf8')).to.equal(`${API_KEY}-v1`);
      // Both pods published at once and both wanted to create the shared Secret: no false alarm.
      expect((await env.events(namespace)).filter((event) => event.type === 'Warning')).to.deep.equal([]);
    });

    it('deleting the ReplicaSet (background): the garbage collector deletes the pods, the kubelet unpublishes, statuses and the Secret go', async () => {
      await env.apps.deleteNamespacedReplicaSet({ namespace, name: replicaSet.metadata!.name!, propagationPolicy: 'Background' });
      await eventually(async () => {
        for (const pod of pods) expect(await env.podExists(namespace, name(pod)), `pod ${name(pod)} still there`).to.equal(false);
      }, 60_000, 250).catch(env.withLogs);
      // The GC deleted the pods gracefully; the kubelet unpublished, then confirmed with grace period 0
      // (after the pod syncs that republished, since the CSIDriver has requiresRepublish).
      for (const pod of pods) {
        const ops = env.kubelet!.journal.filter((entry) => entry.podUid === uid(pod)).map((entry) => `${entry.op}:${entry.ok}`);
        expect(ops.join(' '), env.logs()).to.match(/^publish:true( republish:true)* unpublish:true finalize:true$/);
        expect(existsSync(target(pod))).to.equal(false);
        expect(existsSync(join(env.sandbox!.kubeletRoot, 'pods', uid(pod)))).to.equal(false);
      }
      expect(env.mounts()).to.deep.equal([]);
      await eventually(async () => {
        for (const pod of pods) expect(await env.readPodStatus(namespace, statusName(pod)), statusName(pod)).to.equal(undefined);
        expect(await env.readSecret(namespace, SECRET), 'the Secret owned by the ReplicaSet').to.equal(undefined);
      }, 60_000, 250).catch(env.withLogs);
      expect(env.kubelet!.podUids()).to.deep.equal([]);
      expect(env.driver!.running).to.equal(true);
      expect(env.driver!.stderr).not.to.match(/forbidden/i);
    });
  });

  describe('the fake kubelet alone: what it sends for a pod, as kubelet does (recording driver double)', () => {
    const OTHER_NODE = 'node-2';
    let namespace: string;
    let sandbox: TmpfsSandbox | undefined;
    let kubelet: PodWatchingKubelet | undefined;
    const feedFor = (nodeName: string): ApiServerPodFeed => new ApiServerPodFeed({ client: new KubernetesClient(delegatedCredentials(env.plane!.adminKubeConfig())), nodeName });
    const publishes: PublishCommand[] = [];
    const unpublishes: UnpublishCommand[] = [];
    const recorder: NodeVolumes = {
      publish: async (command) => {
        publishes.push(command);
      },
      unpublish: async (command) => {
        unpublishes.push(command);
      },
    };

    before(async () => {
      namespace = await env.createNamespace('kk-fidelity');
      sandbox = await TmpfsSandbox.create('sscsi-kk-rec-');
      kubelet = new PodWatchingKubelet({
        feed: feedFor(OTHER_NODE),
        volumes: recorder,
        kubeletRoot: sandbox.kubeletRoot,
        retryDelayMs: 100,
        maxRetryDelayMs: 1_000,
      });
      kubelet.start();
      await kubelet.whenSynced();
    });

    after(async () => {
      await kubelet?.stop();
      await sandbox?.dispose();
    });

    it('publishes with kubelet\'s volume id, target path, pod info, csi.readOnly and the nodePublishSecretRef data read from the API', async () => {
      await env.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'store-creds' }, stringData: { clientid: 'id-1', clientsecret: 's3cr3t' } } });
      const pod = await env.createPod(namespace, 'fidelity', { className: 'some-class', nodeName: OTHER_NODE, nodePublishSecretRef: 'store-creds' });
      const elsewhere = await env.createPod(namespace, 'elsewhere', { className: 'some-class', nodeName: 'node-3' });
      const uid = pod.metadata!.uid!;
      await eventually(() => expect(publishes).to.have.length.at.least(1), 20_000, 50);
      expect(publishes[0]).to.deep.equal({
        volumeId: volumeId(uid, VOLUME),
        targetPath: join(sandbox!.kubeletRoot, 'pods', uid, 'volumes', 'kubernetes.io~csi', VOLUME, 'mount'),
        readonly: true,
        volumeContext: {
          secretProviderClass: 'some-class',
          'csi.storage.k8s.io/pod.name': 'fidelity',
          'csi.storage.k8s.io/pod.namespace': namespace,
          'csi.storage.k8s.io/pod.uid': uid,
          'csi.storage.k8s.io/serviceAccount.name': 'app',
          'csi.storage.k8s.io/ephemeral': 'true',
        },
        secrets: { clientid: 'id-1', clientsecret: 's3cr3t' },
      });
      expect(kubelet!.podUids()).to.deep.equal([uid]);
      expect(kubelet!.podUids()).not.to.include(elsewhere.metadata!.uid);
      await env.core.deleteNamespacedPod({ namespace, name: 'elsewhere', gracePeriodSeconds: 0 });
    });

    it('a missing nodePublishSecretRef Secret: no call to the driver, a FailedMount event, and a retry that publishes once it exists', async () => {
      const pod = await env.createPod(namespace, 'late-secret', { className: 'some-class', nodeName: OTHER_NODE, nodePublishSecretRef: 'late-creds' });
      const uid = pod.metadata!.uid!;
      const publishesOfPod = (): PublishCommand[] => publishes.filter((command) => command.volumeContext['csi.storage.k8s.io/pod.uid'] === uid);
      await eventually(async () => {
        const failed = (await env.events(namespace, 'FailedMount')).filter((event) => event.involvedObject.uid === uid);
        expect(failed).to.have.length(1);
        expect(failed[0]!.type).to.equal('Warning');
        expect(failed[0]!.source).to.deep.equal({ component: 'kubelet', host: OTHER_NODE });
        expect(failed[0]!.message).to.match(new RegExp(`^MountVolume\\.SetUp failed for volume "secrets-store" : fetching NodePublishSecretRef ${namespace}/late-creds failed: secrets "late-creds" not found$`));
        expect(kubelet!.volume(uid, VOLUME)!.attempts).to.be.greaterThan(1);
      }, 20_000, 50);
      expect(publishesOfPod()).to.deep.equal([]);
      await env.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'late-creds' }, stringData: { token: 't' } } });
      await eventually(() => expect(kubelet!.volume(uid, VOLUME)?.phase).to.equal('mounted'), 20_000, 50);
      expect(publishesOfPod().at(-1)!.secrets).to.deep.equal({ token: 't' });
    });

    it('passes readonly=false when csi.readOnly is not set (kubelet does not default it)', async () => {
      const pod = await env.createPod(namespace, 'writable', { className: 'some-class', nodeName: OTHER_NODE, readOnly: false });
      await eventually(() => expect(publishes.find((command) => command.volumeContext['csi.storage.k8s.io/pod.uid'] === pod.metadata!.uid)?.readonly).to.equal(false), 20_000, 50);
    });

    it('with requiresRepublish, republishes a mounted volume on each pod sync with the same arguments and fresh nodePublishSecretRef data', async () => {
      const calls: PublishCommand[] = [];
      const republishing = new PodWatchingKubelet({
        feed: feedFor('node-4'),
        volumes: { publish: async (command) => void calls.push(command), unpublish: async () => undefined },
        kubeletRoot: sandbox!.kubeletRoot,
        syncFrequencyMs: 100,
      });
      try {
        republishing.start();
        await env.core.createNamespacedSecret({ namespace, body: { metadata: { name: 'rotating-creds' }, stringData: { token: 'first' } } });
        await env.createPod(namespace, 'republished', { className: 'some-class', nodeName: 'node-4', nodePublishSecretRef: 'rotating-creds' });
        await eventually(() => expect(republishing.journal.filter((entry) => entry.op === 'republish' && entry.ok).length).to.be.greaterThan(1), 20_000, 50);
        await env.core.replaceNamespacedSecret({ namespace, name: 'rotating-creds', body: { metadata: { name: 'rotating-creds' }, stringData: { token: 'second' } } });
        await eventually(() => expect(calls.at(-1)!.secrets).to.deep.equal({ token: 'second' }), 20_000, 50);
        const { secrets: _first, ...firstArgs } = calls[0]!;
        const { secrets: _last, ...lastArgs } = calls.at(-1)!;
        expect(lastArgs).to.deep.equal(firstArgs);
      } finally {
        await republishing.stop();
        await env.core.deleteNamespacedPod({ namespace, name: 'republished', gracePeriodSeconds: 0 });
      }
    });

    it('a graceful delete: unpublishes (same volume id and target), removes the pod directory, then confirms the deletion with grace period 0', async () => {
      const uid = (await env.core.readNamespacedPod({ namespace, name: 'fidelity' })).metadata!.uid!;
      await env.core.deleteNamespacedPod({ namespace, name: 'fidelity' });
      await eventually(async () => expect(await env.podExists(namespace, 'fidelity')).to.equal(false), 20_000, 50);
      expect(unpublishes.filter((command) => command.volumeId === volumeId(uid, VOLUME))).to.deep.equal([
        { volumeId: volumeId(uid, VOLUME), targetPath: join(sandbox!.kubeletRoot, 'pods', uid, 'volumes', 'kubernetes.io~csi', VOLUME, 'mount') },
      ]);
      expect(existsSync(join(sandbox!.kubeletRoot, 'pods', uid))).to.equal(false);
      expect(kubelet!.journal.filter((entry) => entry.podUid === uid).map((entry) => entry.op).join(' ')).to.match(/^publish( republish)* unpublish finalize$/);
    });
  });
});
