import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { volumeData, volumeDataFile, volumeId } from '../../../../src/adapters/fake-kubelet/kubelet-volume.js';
import { PodWatchingKubelet, type PodWatchingKubeletOptions } from '../../../../src/adapters/fake-kubelet/pod-watching-kubelet.js';
import type { KubeObject, PodResource } from '../../../../src/adapters/kube-objects/object-shapes.js';
import type { CsiDriverShape } from '../../../../src/adapters/kube-objects/pod-feed.js';
import { InMemoryCluster } from '../../../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryPodFeed } from '../../../../src/adapters/memory-cluster/memory-pod-feed.js';
import { DomainError } from '../../../../src/domain/errors.js';
import type { PublishCommand } from '../../../../src/domain/volume-binding.js';
import type { UnpublishCommand } from '../../../../src/ports/node-volumes.js';
import { eventually } from '../../../contract/eventually.js';
import { aPodResource } from '../../../support/cluster-builders.js';

const NODE = 'node-1';
const DRIVER = 'secrets-store.csi.k8s.io';
/** Generous: the machine running the suite may be loaded. */
const WAIT_MS = 20_000;
const DEPLOYED: CsiDriverShape = { podInfoOnMount: true, requiresRepublish: true, volumeLifecycleModes: ['Ephemeral'] };

/** A driver double that records the calls and fails the way it is told to. */
class RecordingDriver {
  readonly publishes: PublishCommand[] = [];
  readonly unpublishes: UnpublishCommand[] = [];
  failWith: Error | undefined;

  async publish(command: PublishCommand): Promise<void> {
    this.publishes.push(command);
    if (this.failWith) throw this.failWith;
  }

  async unpublish(command: UnpublishCommand): Promise<void> {
    this.unpublishes.push(command);
  }
}

/** The error a CsiNodeClient rejects with for a gRPC status. */
const callError = (code: string, details: string): Error => Object.assign(new Error(`${code}: ${details}`), { code, details });

/** The pod kubelet follows in the in-memory cluster; runs PodWatchingKubelet against a MemoryPodFeed. */
describe('PodWatchingKubelet on the in-memory cluster (what kubelet sends, when)', function () {
  this.timeout(60_000);
  let root: string;
  let cluster: InMemoryCluster;
  let csiDrivers: Record<string, CsiDriverShape>;
  let driver: RecordingDriver;
  let kubelet: PodWatchingKubelet;

  const start = async (options: Partial<PodWatchingKubeletOptions> = {}): Promise<void> => {
    const feed = new MemoryPodFeed({ cluster, nodeName: NODE, clock: { now: () => Date.now() }, csiDrivers });
    kubelet = new PodWatchingKubelet({ feed, volumes: driver, kubeletRoot: root, retryDelayMs: 10, maxRetryDelayMs: 50, firstResyncMs: () => 20, syncFrequencyMs: 3_600_000, ...options });
    kubelet.start();
    await kubelet.whenSynced();
  };
  const createPod = (options: Parameters<typeof aPodResource>[0] = {}): PodResource => cluster.create(aPodResource({ namespace: 'ns', name: 'app-0', nodeName: NODE, ...options }));
  const uidOf = (pod: PodResource): string => pod.metadata.uid!;
  const publishesOf = (pod: PodResource): PublishCommand[] => driver.publishes.filter((command) => command.volumeId === volumeId(uidOf(pod), 'secrets'));
  const warnings = (): string[] => cluster.list('Event', { namespace: 'ns' }).map((event) => `${event.reason}: ${event.message}`);

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'pod-watching-kubelet-'));
    cluster = new InMemoryCluster();
    csiDrivers = { [DRIVER]: { ...DEPLOYED } };
    driver = new RecordingDriver();
  });
  afterEach(async () => {
    await kubelet.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('publishes an inline volume as kubelet does: its handle, target, csi.readOnly, pod info, and vol_data.json beside the target', async () => {
    await start();
    const pod = createPod();
    await eventually(() => expect(publishesOf(pod)).to.have.length.at.least(1), WAIT_MS);
    const target = join(root, 'pods', uidOf(pod), 'volumes', 'kubernetes.io~csi', 'secrets', 'mount');
    expect(publishesOf(pod)[0]).to.deep.equal({
      volumeId: volumeId(uidOf(pod), 'secrets'),
      targetPath: target,
      readonly: true,
      volumeContext: {
        secretProviderClass: 'app-secrets',
        'csi.storage.k8s.io/pod.name': 'app-0',
        'csi.storage.k8s.io/pod.namespace': 'ns',
        'csi.storage.k8s.io/pod.uid': uidOf(pod),
        'csi.storage.k8s.io/serviceAccount.name': 'app',
        'csi.storage.k8s.io/ephemeral': 'true',
      },
      secrets: {},
    });
    expect(await readFile(join(target, '..', 'vol_data.json'), 'utf8')).to.equal(volumeDataFile(DRIVER, NODE, uidOf(pod), 'secrets'));
    expect(Object.keys(volumeData(DRIVER, NODE, uidOf(pod), 'secrets'))).to.deep.equal(['attachmentID', 'driverName', 'nodeName', 'specVolID', 'volumeHandle', 'volumeLifecycleMode']);
    expect(kubelet.volume(uidOf(pod), 'secrets')?.phase).to.equal('mounted');
  });

  it('adds pod info only when the CSIDriver has podInfoOnMount, and the tokens JSON only when it has tokenRequests', async () => {
    csiDrivers[DRIVER] = { ...DEPLOYED, podInfoOnMount: false, tokenRequests: [{ audience: 'vault', expirationSeconds: 600 }] };
    await start();
    const pod = createPod();
    await eventually(() => expect(publishesOf(pod)).to.have.length.at.least(1), WAIT_MS);
    const context = publishesOf(pod)[0]!.volumeContext;
    expect(Object.keys(context).sort()).to.deep.equal(['csi.storage.k8s.io/serviceAccount.tokens', 'secretProviderClass']);
    const tokens = JSON.parse(context['csi.storage.k8s.io/serviceAccount.tokens']!) as Record<string, { token: string; expirationTimestamp: string }>;
    expect(Object.keys(tokens)).to.deep.equal(['vault']);
    expect(tokens['vault']!.token).to.match(/^memory-cluster-token:ns:app:vault:/);
  });

  it('passes the nodePublishSecretRef data as secrets; a missing Secret is a FailedMount without a call, then a publish once it exists', async () => {
    await start();
    const pod = aPodResource({ namespace: 'ns', name: 'creds-0', nodeName: NODE });
    const csi = { driver: DRIVER, readOnly: true, volumeAttributes: { secretProviderClass: 'c' }, nodePublishSecretRef: { name: 'creds' } };
    const withRef = cluster.create({ ...pod, spec: { ...pod.spec, volumes: [{ name: 'secrets', csi }] } });
    await eventually(() => expect(warnings()).to.deep.equal(['FailedMount: MountVolume.SetUp failed for volume "secrets" : fetching NodePublishSecretRef ns/creds failed: secrets "creds" not found']), WAIT_MS);
    expect(publishesOf(withRef)).to.deep.equal([]);
    cluster.create({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'creds', namespace: 'ns' }, stringData: { clientid: 'id-1' } } as KubeObject);
    await eventually(() => expect(publishesOf(withRef)[0]?.secrets).to.deep.equal({ clientid: 'id-1' }), WAIT_MS);
  });

  it('without a CSIDriver that allows Ephemeral volumes: a FailedMount naming it, retried, and no call', async () => {
    csiDrivers = {};
    await start();
    const pod = createPod();
    await eventually(() => expect(kubelet.volume(uidOf(pod), 'secrets')!.attempts).to.be.greaterThan(1), WAIT_MS);
    expect(warnings()).to.deep.equal([
      `FailedMount: MountVolume.SetUp failed for volume "secrets" : kubernetes.io/csi: mounter.SetupAt failed to check volume lifecycle mode: volume mode "Ephemeral" not supported by driver ${DRIVER} (no CSIDriver object)`,
    ]);
    expect(driver.publishes).to.deep.equal([]);
    expect(kubelet.volume(uidOf(pod), 'secrets')!.phase).to.equal('pending');
  });

  it('with requiresRepublish: a pod sync shortly after the mount, one per syncFrequency, and one per pod change; the same tokens each time', async () => {
    csiDrivers[DRIVER] = { ...DEPLOYED, tokenRequests: [{ audience: 'vault', expirationSeconds: 3600 }] };
    await start({ syncFrequencyMs: 100 });
    const pod = createPod();
    await eventually(() => expect(kubelet.journal.filter((entry) => entry.op === 'republish').length).to.be.at.least(3), WAIT_MS);
    const calls = publishesOf(pod);
    for (const call of calls) expect(call).to.deep.equal(calls[0]);
    const before = publishesOf(pod).length;
    await kubelet.stop();
    await start({ syncFrequencyMs: 3_600_000, firstResyncMs: () => 3_600_000 });
    // A new kubelet on the same node: the first publish again, then only pod changes sync.
    await eventually(() => expect(publishesOf(pod).length).to.equal(before + 1), WAIT_MS);
    cluster.patch('Pod', 'ns', 'app-0', { metadata: { annotations: { 'secrets-store.csi.k8s.io/rotate-requested-at': '1' } } });
    await eventually(() => expect(publishesOf(pod).length).to.equal(before + 2), WAIT_MS);
    expect(kubelet.journal.map((entry) => entry.op)).to.deep.equal(['publish', 'republish']);
  });

  it('without requiresRepublish no sync publishes again, whatever changes', async () => {
    csiDrivers[DRIVER] = { ...DEPLOYED, requiresRepublish: false };
    await start({ syncFrequencyMs: 20 });
    const pod = createPod();
    await eventually(() => expect(publishesOf(pod)).to.have.length(1), WAIT_MS);
    cluster.patch('Pod', 'ns', 'app-0', { metadata: { annotations: { changed: 'yes' } } });
    // Later writes are delivered in order: once this pod's change was handled, the earlier one was too.
    const marker = createPod({ name: 'marker' });
    await eventually(() => expect(publishesOf(marker)).to.have.length(1), WAIT_MS);
    expect(publishesOf(pod)).to.have.length(1);
  });

  it('skips a volume no container mounts, as kubelet does: no call for it', async () => {
    await start();
    const pod = aPodResource({ namespace: 'ns', name: 'unused-0', nodeName: NODE });
    const unused = cluster.create({ ...pod, spec: { ...pod.spec, containers: [{ name: 'app' }] } });
    const marker = createPod({ name: 'marker' });
    await eventually(() => expect(publishesOf(marker)).to.have.length.at.least(1), WAIT_MS);
    expect(publishesOf(unused)).to.deep.equal([]);
    expect(kubelet.volume(uidOf(unused), 'secrets')).to.equal(undefined);
  });

  it('a pod removed from the cluster: unpublishes with the same handle and target, then removes its directories', async () => {
    await start();
    const pod = createPod();
    await eventually(() => expect(kubelet.volume(uidOf(pod), 'secrets')?.phase).to.equal('mounted'), WAIT_MS);
    cluster.delete('Pod', 'ns', 'app-0');
    await eventually(() => expect(kubelet.podUids()).to.deep.equal([]), WAIT_MS);
    expect(driver.unpublishes).to.deep.equal([{ volumeId: volumeId(uidOf(pod), 'secrets'), targetPath: kubelet.targetPath(uidOf(pod), 'secrets') }]);
    expect(existsSync(join(root, 'pods', uidOf(pod)))).to.equal(false);
  });

  it('a terminating pod: unpublishes, then confirms the deletion (the pod is gone from the cluster)', async () => {
    await start();
    const pod = createPod();
    await eventually(() => expect(kubelet.volume(uidOf(pod), 'secrets')?.phase).to.equal('mounted'), WAIT_MS);
    cluster.patch('Pod', 'ns', 'app-0', { metadata: { deletionTimestamp: '2026-12-01T00:00:00Z' } });
    await eventually(() => expect(cluster.get('Pod', 'ns', 'app-0')).to.equal(undefined), WAIT_MS);
    expect(kubelet.journal.filter((entry) => entry.podUid === uidOf(pod)).map((entry) => `${entry.op}:${entry.ok}`)).to.include.members(['unpublish:true', 'finalize:true']);
  });

  it('a final error leaves the volume unmounted and its directory removed; a non-final one leaves it uncertain, so a delete still unpublishes', async () => {
    driver.failWith = callError('INVALID_ARGUMENT', 'bad class');
    await start();
    const failed = createPod({ name: 'final-0' });
    await eventually(() => expect(kubelet.volume(uidOf(failed), 'secrets')?.phase).to.equal('failed'), WAIT_MS);
    expect(existsSync(join(root, 'pods', uidOf(failed), 'volumes', 'kubernetes.io~csi', 'secrets'))).to.equal(false);
    expect(warnings()).to.include('FailedMount: MountVolume.SetUp failed for volume "secrets" : rpc error: code = InvalidArgument desc = bad class');
    cluster.delete('Pod', 'ns', 'final-0');
    await eventually(() => expect(kubelet.podUids()).to.deep.equal([]), WAIT_MS);

    driver.failWith = new DomainError('ProviderUnavailable', 'provider down');
    const uncertain = createPod({ name: 'uncertain-0' });
    await eventually(() => expect(kubelet.volume(uidOf(uncertain), 'secrets')?.phase).to.equal('uncertain'), WAIT_MS);
    cluster.delete('Pod', 'ns', 'uncertain-0');
    await eventually(() => expect(kubelet.podUids()).to.deep.equal([]), WAIT_MS);
    expect(driver.unpublishes.map((command) => command.volumeId)).to.deep.equal([volumeId(uidOf(uncertain), 'secrets')]);
  });
});
