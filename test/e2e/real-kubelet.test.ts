import { StorageV1Api } from '@kubernetes/client-node';
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { volumeDataFile } from '../../src/adapters/fake-kubelet/kubelet-volume.js';
import { podStatusName } from '../../src/domain/pod-status.js';
import { RotationAnnotation } from '../../src/domain/rotation-policy.js';
import { requireControlPlaneBinaries } from '../support/control-plane.js';
import type { RecordedCall } from '../support/csi-recorder.js';
import { requireKubemark } from '../support/hollow-kubelet.js';
import { KUBELET_V1_34_WIRE, kubeletWireOf } from '../support/kubelet-wire.js';
import { classObject, eventually, KubeDriverEnv, NODE, VOLUME } from './kube-driver-env.js';

const DRIVER = 'secrets-store.csi.k8s.io';
const CLASS = 'real-kubelet';
const POD = 'app-0';
// The fake provider's store is shared by every test of the process: object names are unique per file.
const OBJECT = 'rk-db-password';
const AUDIENCE = 'vault';
const TOKEN_SECONDS = 600;
/** kubemark's hollow kubelet syncs each pod every 10 s, plus up to half of it again (kubelet's jitter). */
const SYNC_MS = 10_000 * 1.5;
/** Long enough for a loaded machine to get a pod running or a rotation through. */
const DEADLINE_MS = 30_000;

/**
 * The production profile against a real kubelet: kubemark's hollow node (the kubelet v1.34.4 code
 * with a fake container runtime) registered with the driver through the plugin registration API,
 * the driver process as its ServiceAccount, and the fake provider. The CSIDriver is deploy/'s with a
 * token request, so the pod's service-account token goes kubelet -> driver -> provider. Every call
 * kubelet makes goes through a recorder, and what it sent over the pod's life must be what the
 * kubelet double sends (KUBELET_V1_34_WIRE).
 */
describe('e2e: a real kubelet (kubemark hollow node) with driver --cluster kubernetes', function () {
  this.timeout(240_000);
  let env: KubeDriverEnv | undefined;
  let namespace = '';
  let uid = '';
  let target = '';
  /** From the driver's stop to the first call the new process answered (epoch ms): left out of the wire comparison. */
  let outage: { from: number; to: number } | undefined;

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    const kubemark = requireKubemark(this);
    env = new KubeDriverEnv(['--rotation-poll-interval', '1h', '--min-rotation-poll-interval', '1s', '--rotation-jitter', '0.1'], {
      kubemark,
      csiDriver: { tokenRequests: [{ audience: AUDIENCE, expirationSeconds: TOKEN_SECONDS }] },
    });
    await env.start(binaries);
  });

  after(async () => {
    await env?.dispose();
  });

  const files = (): Promise<Record<string, string>> => env!.files(target);
  const okPublishes = (): number => env!.publishes(uid).filter((call) => call.code === 'OK').length;

  it('kubelet registers the driver: one NodeGetInfo, and the node\'s CSINode lists the driver with its node id', async () => {
    expect(env!.recorder!.calls().map((call) => call.method)).to.deep.equal(['NodeGetInfo']);
    const storage = env!.plane!.adminKubeConfig().makeApiClient(StorageV1Api);
    await eventually(async () => {
      const csiNode = await storage.readCSINode({ name: NODE });
      expect(csiNode.spec.drivers.map(({ name, nodeID }) => ({ name, nodeID }))).to.deep.include({ name: DRIVER, nodeID: NODE });
    }, DEADLINE_MS, 200).catch(env!.withLogs);
  });

  it('a pod whose container mounts the volume runs with its files; kubelet wrote vol_data.json as the double does; the pod status is recorded', async () => {
    namespace = await env!.createNamespace('rk');
    await env!.admin.putClass(classObject(namespace, CLASS, [OBJECT]));
    uid = (await env!.createPod(namespace, POD, { className: CLASS })).metadata!.uid!;
    target = env!.targetPath(uid);
    await eventually(async () => {
      expect((await env!.core.readNamespacedPod({ namespace, name: POD })).status?.phase).to.equal('Running');
    }, DEADLINE_MS, 200).catch(env!.withLogs);
    expect(await files()).to.deep.equal({ [OBJECT]: `${OBJECT}-v1` });
    expect(env!.mounts()).to.deep.equal([target]);
    expect(await readFile(join(target, '..', 'vol_data.json'), 'utf8')).to.equal(volumeDataFile(DRIVER, NODE, uid, VOLUME));
    const status = await env!.readPodStatus(namespace, podStatusName(POD, namespace, CLASS));
    expect(status?.status).to.deep.include({ podName: POD, mounted: true, targetPath: target });
  });

  it('the token of the CSIDriver\'s tokenRequests reaches the provider: a JWT for the audience, bound to the pod, with the lifetime asked for', async () => {
    const attributes = JSON.parse(env!.inProcessProvider!.lastMountRequest!.attributes) as Record<string, string>;
    const tokens = JSON.parse(attributes['csi.storage.k8s.io/serviceAccount.tokens']!) as Record<string, { token: string; expirationTimestamp: string }>;
    expect(Object.keys(tokens)).to.deep.equal([AUDIENCE]);
    const claims = JSON.parse(Buffer.from(tokens[AUDIENCE]!.token.split('.')[1]!, 'base64url').toString('utf8')) as {
      aud: string[];
      exp: number;
      iat: number;
      'kubernetes.io': { pod: { name: string; uid: string }; serviceaccount: { name: string } };
    };
    expect(claims.aud).to.deep.equal([AUDIENCE]);
    expect(claims['kubernetes.io'].pod).to.deep.equal({ name: POD, uid });
    expect(claims['kubernetes.io'].serviceaccount.name).to.equal('app');
    expect(claims.exp - claims.iat).to.equal(TOKEN_SECONDS);
    expect(Date.parse(tokens[AUDIENCE]!.expirationTimestamp) / 1000).to.equal(claims.exp);
  });

  it('kubelet republishes on its pod syncs and the driver answers each, files unchanged', async () => {
    const before = okPublishes();
    await eventually(() => expect(okPublishes()).to.be.at.least(before + 2), 2 * SYNC_MS + DEADLINE_MS, 200).catch(env!.withLogs);
    expect(await files()).to.deep.equal({ [OBJECT]: `${OBJECT}-v1` });
  });

  it('rotation on demand: a store change, then a new rotate-requested-at on the pod, reaches the file', async () => {
    expect(await env!.rotate(OBJECT)).to.equal('v2');
    await env!.annotatePod(namespace, POD, { [RotationAnnotation.rotateRequestedAt]: '2026-12-01T00:00:00Z' });
    await eventually(async () => expect(await files()).to.deep.equal({ [OBJECT]: `${OBJECT}-v2` }), DEADLINE_MS, 100).catch(env!.withLogs);
  });

  it('rotation on schedule: with the class\'s own 2 s interval, store changes reach the file with no other trigger', async () => {
    await env!.annotateClass(namespace, CLASS, { [RotationAnnotation.pollInterval]: '2s' });
    expect(await env!.rotate(OBJECT)).to.equal('v3');
    await eventually(async () => expect(await files()).to.deep.equal({ [OBJECT]: `${OBJECT}-v3` }), DEADLINE_MS, 100).catch(env!.withLogs);
    // Nothing changes in the cluster now: the next check is the class's schedule (or a republish it makes due).
    expect(await env!.rotate(OBJECT)).to.equal('v4');
    await eventually(async () => expect(await files()).to.deep.equal({ [OBJECT]: `${OBJECT}-v4` }), DEADLINE_MS, 100).catch(env!.withLogs);
  });

  it('a driver restart: kubelet\'s calls fail while it is down and the files stay; the new process answers them again', async () => {
    const stoppedAt = Date.now();
    expect(await env!.stopDriver()).to.deep.equal({ code: 0, signal: null });
    const callsSince = (at: number): RecordedCall[] => env!.recorder!.calls().filter((call) => call.at >= at);
    await eventually(() => expect(callsSince(stoppedAt).filter((call) => call.code === 'UNAVAILABLE')).not.to.deep.equal([]), SYNC_MS + DEADLINE_MS, 200).catch(
      env!.withLogs,
    );
    expect(await files()).to.deep.equal({ [OBJECT]: `${OBJECT}-v4` });
    const restartedAt = Date.now();
    await env!.startDriver();
    let answered: RecordedCall | undefined;
    await eventually(() => {
      answered = callsSince(restartedAt).find((call) => call.method === 'NodePublishVolume' && call.code === 'OK');
      expect(answered, 'a NodePublishVolume answered by the new driver process').not.to.equal(undefined);
    }, SYNC_MS + DEADLINE_MS, 200).catch(env!.withLogs);
    // The outage ends with the first call the new process answered (a NodeGetCapabilities before that publish).
    outage = { from: stoppedAt, to: callsSince(restartedAt).find((call) => call.code === 'OK')!.at };
    expect(await files()).to.deep.equal({ [OBJECT]: `${OBJECT}-v4` });
  });

  it('pod delete: kubelet unpublishes, the mount and its directory go, the pod status goes, and kubelet confirms the deletion', async () => {
    await env!.core.deleteNamespacedPod({ namespace, name: POD });
    await eventually(async () => expect(await env!.podExists(namespace, POD)).to.equal(false), DEADLINE_MS, 200).catch(env!.withLogs);
    const unpublishes = env!.recorder!.calls('NodeUnpublishVolume').filter((call) => call.request['targetPath'] === target);
    expect(unpublishes.map((call) => call.code)).to.deep.equal(['OK']);
    expect(env!.mounts()).to.deep.equal([]);
    expect(existsSync(target)).to.equal(false);
    await eventually(async () => expect(await env!.readPodStatus(namespace, podStatusName(POD, namespace, CLASS))).to.equal(undefined), DEADLINE_MS, 200).catch(
      env!.withLogs,
    );
  });

  it('a pod with an fsGroup: kubelet passes it as volume_mount_group (the driver advertises VOLUME_MOUNT_GROUP) and the files belong to that group', async () => {
    const grouped = (await env!.createPod(namespace, 'grouped-0', { className: CLASS, fsGroup: 2000 })).metadata!.uid!;
    const groupedTarget = await env!.waitMounted(grouped, DEADLINE_MS);
    const capability = env!.publishes(grouped).find((call) => call.code === 'OK')!.request['volumeCapability'] as { mount: { volumeMountGroup: string } };
    expect(capability.mount.volumeMountGroup).to.equal('2000');
    expect((await stat(join(groupedTarget, OBJECT))).gid).to.equal(2000);
    await env!.core.deleteNamespacedPod({ namespace, name: 'grouped-0' });
    await eventually(async () => expect(await env!.podExists(namespace, 'grouped-0')).to.equal(false), DEADLINE_MS, 200).catch(env!.withLogs);
  });

  it('what kubelet sent over the pod\'s life (the outage left out) is what the kubelet double sends: KUBELET_V1_34_WIRE', () => {
    const down = outage;
    const leftOut = (call: RecordedCall): boolean => down !== undefined && call.at >= down.from && call.at < down.to;
    expect(kubeletWireOf(env!.recorder!.timeline, target, leftOut)).to.deep.equal(KUBELET_V1_34_WIRE);
  });
});
