import type { V1Pod } from '@kubernetes/client-node';
import { expect } from 'chai';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { PodStatusResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { requireControlPlaneBinaries } from '../support/control-plane.js';
import { CSI } from '../support/kube-admin.js';
import { base64, classObject, eventually, KubeDriverEnv, MANAGED, NODE, NODE_LABEL, VOLUME, type SecretObjectSpec } from './kube-driver-env.js';
import { sleep } from './processes.js';

const CLASS = 'app-secrets';

/**
 * The bad-input list on a real control plane, with the driver process (its ServiceAccount,
 * deploy/rbac only) and the pod-watching fake kubelet: classes whose secretObjects cannot be
 * satisfied, a Secret the driver does not manage, a pod status object edited by a user, the API
 * server going away for 10 s, and watches expiring (410 Gone) after an etcd compaction. The driver
 * is never restarted: every test ends with it still running and working.
 */
describe('e2e: bad input and resilience of driver --cluster kubernetes on a real API server', function () {
  this.timeout(180_000);
  // -v 4: the driver's debug lines (a 410 relist is logged at debug level) go to stderr too.
  const env = new KubeDriverEnv(['--v', '4']);
  let driverPid: number | undefined;

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    await env.start(binaries);
    driverPid = env.driver!.pid;
  });

  afterEach(function () {
    // A test that failed leaves the driver log for whoever reads the report.
    if (this.currentTest?.state === 'failed') process.stderr.write(env.logs());
  });

  after(async () => {
    await env.dispose();
  });

  /** A namespace with a class of the fake provider (objects, secretObjects) and one pod on node-1 using it. */
  async function podWithClass(prefix: string, objects: readonly string[], secretObjects: readonly SecretObjectSpec[], readOnly = true): Promise<{ namespace: string; pod: V1Pod; uid: string; target: string }> {
    const namespace = await env.createNamespace(prefix);
    await env.admin.putClass(classObject(namespace, CLASS, objects, secretObjects));
    const pod = await env.createPod(namespace, 'app-0', { className: CLASS, readOnly });
    const uid = pod.metadata!.uid!;
    return { namespace, pod, uid, target: env.kubelet!.targetPath(uid, VOLUME) };
  }

  /** Deletes the pod (gracefully, as a user would) and waits until the kubelet has torn it down and confirmed it. */
  async function removePod(namespace: string, name: string, uid: string): Promise<void> {
    await env.core.deleteNamespacedPod({ namespace, name });
    await eventually(async () => {
      expect(env.kubelet!.podUids()).not.to.include(uid);
      expect(await env.podExists(namespace, name)).to.equal(false);
    }, 30_000, 100).catch(env.withLogs);
    expect(existsSync(join(env.sandbox!.kubeletRoot, 'pods', uid))).to.equal(false);
  }

  async function failedMounts(namespace: string, uid: string): Promise<string[]> {
    return (await env.events(namespace, 'FailedMount')).filter((event) => event.involvedObject.uid === uid && event.type === 'Warning').map((event) => event.message ?? '');
  }

  /**
   * The kubelet keeps retrying and the driver keeps refusing: between attempts nothing is mounted at
   * the target, and no file ever appears there (sampled while the retries go on).
   */
  async function expectNothingWritten(namespace: string, uid: string, target: string, secretName?: string): Promise<void> {
    const deadline = Date.now() + 1_500;
    while (Date.now() < deadline) {
      expect(await env.files(target), 'files at a target whose publish failed').to.deep.equal({});
      await sleep(50);
    }
    await eventually(() => expect(env.mounts()).not.to.include(target), 10_000, 20);
    expect(await env.readPodStatus(namespace, `app-0-${namespace}-${CLASS}`), 'pod status of a failed publish').to.equal(undefined);
    if (secretName !== undefined) expect(await env.readSecret(namespace, secretName), 'Secret of a failed publish').to.equal(undefined);
    expect(env.kubelet!.journal.some((entry) => entry.podUid === uid && entry.op === 'publish' && entry.ok)).to.equal(false);
  }

  describe('classes whose secretObjects cannot be satisfied', () => {
    it('a secretObject naming a file that is not mounted: FAILED_PRECONDITION, a FailedMount naming the file, nothing written, then a fixed class mounts', async () => {
      const OBJECT = 'res-missing-file';
      const secretObject = (objectName: string): SecretObjectSpec => ({ secretName: 'synced', type: 'Opaque', data: [{ objectName, key: 'value' }] });
      const { namespace, uid, target } = await podWithClass('bad-file', [OBJECT], [secretObject('not-mounted')]);

      await eventually(async () => {
        const volume = env.kubelet!.volume(uid, VOLUME)!;
        expect(volume.phase).to.equal('failed');
        expect(volume.lastErrorCode).to.equal('FAILED_PRECONDITION');
        expect(volume.attempts, 'kubelet retries').to.be.greaterThan(1);
        const [message, ...more] = await failedMounts(namespace, uid);
        expect(more, 'one event per distinct message').to.deep.equal([]);
        expect(message).to.equal(
          `MountVolume.SetUp failed for volume "${VOLUME}" : rpc error: code = FailedPrecondition desc = ` +
            `secretObjects "synced" of SecretProviderClass ${namespace}/${CLASS}: file "not-mounted" for key "value" is not in the mount`,
        );
      }, 30_000, 100).catch(env.withLogs);
      await expectNothingWritten(namespace, uid, target, 'synced');

      // The user fixes the class; kubelet's next retry mounts.
      await env.admin.putClass(classObject(namespace, CLASS, [OBJECT], [secretObject(OBJECT)]));
      await env.waitMounted(uid);
      expect(await env.files(target)).to.deep.equal({ [OBJECT]: `${OBJECT}-v1` });
      expect((await env.readSecret(namespace, 'synced'))!.data).to.deep.equal({ value: base64(`${OBJECT}-v1`) });
      await removePod(namespace, 'app-0', uid);
    });

    it('an invalid Secret type: INVALID_ARGUMENT naming the type, nothing written', async () => {
      const OBJECT = 'res-bad-type';
      const { namespace, uid, target } = await podWithClass('bad-type', [OBJECT], [{ secretName: 'typed', type: 'kubernetes.io/bogus', data: [{ objectName: OBJECT, key: 'v' }] }]);
      await eventually(async () => {
        const volume = env.kubelet!.volume(uid, VOLUME)!;
        expect(volume.phase).to.equal('failed');
        expect(volume.lastErrorCode).to.equal('INVALID_ARGUMENT');
        const [message] = await failedMounts(namespace, uid);
        expect(message).to.match(/rpc error: code = InvalidArgument desc = .*invalid secret type "kubernetes\.io\/bogus"/);
        expect(message).to.include(`SecretProviderClass ${namespace}/${CLASS}`);
      }, 30_000, 100).catch(env.withLogs);
      await expectNothingWritten(namespace, uid, target, 'typed');
      await removePod(namespace, 'app-0', uid);
    });

    it('a pod whose inline volume lacks csi.readOnly: true: INVALID_ARGUMENT, nothing written', async () => {
      const OBJECT = 'res-writable';
      const { namespace, uid, target } = await podWithClass('writable', [OBJECT], [], false);
      await eventually(async () => {
        expect(env.kubelet!.volume(uid, VOLUME)!.lastErrorCode).to.equal('INVALID_ARGUMENT');
        expect((await failedMounts(namespace, uid))[0]).to.include('readonly must be true');
      }, 30_000, 100).catch(env.withLogs);
      await expectNothingWritten(namespace, uid, target);
      await removePod(namespace, 'app-0', uid);
    });
  });

  it('the provider unavailable: UNAVAILABLE (not final), the kubelet keeps the volume uncertain and retries until it mounts', async () => {
    const OBJECT = 'res-unavailable';
    await env.providerFailure({ grpcStatus: 'UNAVAILABLE' });
    try {
      const { namespace, uid, target } = await podWithClass('unavailable', [OBJECT], []);
      await eventually(async () => {
        const volume = env.kubelet!.volume(uid, VOLUME)!;
        expect(volume.phase).to.equal('uncertain');
        expect(volume.lastErrorCode).to.equal('UNAVAILABLE');
        expect(volume.attempts).to.be.greaterThan(1);
        expect((await failedMounts(namespace, uid))[0]).to.match(/rpc error: code = Unavailable desc = /);
      }, 60_000, 100).catch(env.withLogs);
      await env.providerFailure(undefined);
      await env.waitMounted(uid, 60_000);
      expect(await env.files(target)).to.deep.equal({ [OBJECT]: `${OBJECT}-v1` });
      await removePod(namespace, 'app-0', uid);
    } finally {
      await env.providerFailure(undefined);
    }
  });

  it('a same-named Secret the driver does not manage: mounted, the Secret never touched, Warning events naming it', async () => {
    const OBJECT = 'res-unmanaged';
    const namespace = await env.createNamespace('unmanaged');
    const theirs = await env.core.createNamespacedSecret({
      namespace,
      body: { metadata: { name: 'taken', labels: { owner: 'someone-else' } }, type: 'Opaque', stringData: { password: 'hand-made' } },
    });
    await env.admin.putClass(classObject(namespace, CLASS, [OBJECT], [{ secretName: 'taken', type: 'Opaque', data: [{ objectName: OBJECT, key: 'password' }] }]));
    const pod = await env.createPod(namespace, 'app-0', { className: CLASS });
    const uid = pod.metadata!.uid!;
    const target = await env.waitMounted(uid);
    expect(await env.files(target)).to.deep.equal({ [OBJECT]: `${OBJECT}-v1` });

    const notManaged = `Secret ${namespace}/taken exists and is not managed by the driver (label ${MANAGED}="true" missing)`;
    await eventually(async () => {
      const [event] = await env.events(namespace, 'FailedToCreateSecret');
      expect(event?.type).to.equal('Warning');
      expect(event?.involvedObject.uid).to.equal(uid);
      expect(event?.message).to.include(notManaged);
    }, 30_000, 100).catch(env.withLogs);

    // Rotation keeps trying and keeps refusing, with its own reason.
    await env.rotate(OBJECT);
    await eventually(async () => {
      expect(await readFile(join(target, OBJECT), 'utf8')).to.equal(`${OBJECT}-v2`);
      expect((await env.events(namespace, 'MountRotationComplete')).map((event) => event.involvedObject.uid)).to.include(uid);
      const [failed] = await env.events(namespace, 'SecretRotationFailed');
      expect(failed?.type).to.equal('Warning');
      expect(failed?.message).to.include(notManaged);
    }, 30_000, 100).catch(env.withLogs);

    const secret = (await env.readSecret(namespace, 'taken'))!;
    expect(secret.metadata.resourceVersion, 'the Secret was written to').to.equal(theirs.metadata!.resourceVersion);
    expect(secret.data).to.deep.equal({ password: base64('hand-made') });
    expect(secret.metadata.labels).to.deep.equal({ owner: 'someone-else' });
    expect(secret.metadata.ownerReferences).to.equal(undefined);
    await removePod(namespace, 'app-0', uid);
  });

  it('a pod status object edited by a user: the next rotation that changes versions restores it; deleted, it is recreated', async () => {
    const OBJECT = 'res-edited';
    const { namespace, uid } = await podWithClass('edited', [OBJECT], []);
    await env.waitMounted(uid);
    const name = `app-0-${namespace}-${CLASS}`;
    const resource = { ...CSI, namespace, plural: 'secretproviderclasspodstatuses', name };
    const original = (await env.readPodStatus(namespace, name))!;
    expect(original.status!.objects).to.deep.equal([{ id: OBJECT, version: 'v1' }]);

    const edited: PodStatusResource = {
      ...original,
      metadata: { ...original.metadata, labels: { 'edited-by': 'user' } },
      status: { ...original.status!, mounted: false, objects: [{ id: OBJECT, version: 'forged' }, { id: 'injected', version: 'v9' }] },
    };
    await env.custom.replaceNamespacedCustomObject({ ...resource, body: edited });

    await env.rotate(OBJECT);
    await eventually(async () => {
      const restored = (await env.readPodStatus(namespace, name))!;
      const { lastRotationTime, nextRotationTime, ...upstreamFields } = restored.status!;
      expect(upstreamFields).to.deep.equal({ ...original.status, objects: [{ id: OBJECT, version: 'v2' }] });
      expect([lastRotationTime, nextRotationTime].map((time) => typeof time)).to.deep.equal(['string', 'string']);
      expect(restored.metadata.labels).to.deep.equal({ 'edited-by': 'user', [NODE_LABEL]: NODE });
      expect(restored.metadata.ownerReferences).to.deep.equal(original.metadata.ownerReferences);
    }, 30_000, 100).catch(env.withLogs);

    await env.custom.deleteNamespacedCustomObject(resource);
    await env.rotate(OBJECT);
    await eventually(async () => {
      const recreated = (await env.readPodStatus(namespace, name))!;
      expect(recreated, 'recreated').not.to.equal(undefined);
      expect(recreated.metadata.uid).not.to.equal(original.metadata.uid);
      const { lastRotationTime, nextRotationTime, ...upstreamFields } = recreated.status!;
      expect(upstreamFields).to.deep.equal({ ...original.status, objects: [{ id: OBJECT, version: 'v3' }] });
      expect([lastRotationTime, nextRotationTime].map((time) => typeof time)).to.deep.equal(['string', 'string']);
      expect(recreated.metadata.ownerReferences).to.deep.equal(original.metadata.ownerReferences);
    }, 30_000, 100).catch(env.withLogs);
    expect(env.driver!.running).to.equal(true);
    await removePod(namespace, 'app-0', uid);
  });

  describe('the control plane misbehaving (the driver is never restarted)', () => {
    const OBJECT = 'res-outage';
    const SYNCED = 'outage-secret';
    let namespace: string;
    let uid: string;
    let target: string;
    const statusName = (): string => `app-0-${namespace}-${CLASS}`;
    const syncedData = (version: string): Record<string, string> => ({ value: base64(`${OBJECT}-${version}`) });

    async function expectEverywhere(version: string): Promise<void> {
      await eventually(async () => {
        expect(await readFile(join(target, OBJECT), 'utf8')).to.equal(`${OBJECT}-${version}`);
        expect((await env.readPodStatus(namespace, statusName()))?.status?.objects?.find((object) => object.id === OBJECT)).to.deep.equal({ id: OBJECT, version });
        expect((await env.readSecret(namespace, SYNCED))?.data).to.deep.equal(syncedData(version));
      }, 90_000, 200).catch(env.withLogs);
    }

    before(async () => {
      ({ namespace, uid, target } = await podWithClass('outage', [OBJECT], [{ secretName: SYNCED, type: 'Opaque', data: [{ objectName: OBJECT, key: 'value' }] }]));
      await env.waitMounted(uid);
      await expectEverywhere('v1');
    });

    it('the API server away for 10 s: files stay, a rotation fails visibly, and after it is back rotations reach files, status and Secret', async () => {
      // Up to here the driver, with only deploy/rbac, was never refused. (Right after an API server
      // restart it may be, for a moment, while the new server's RBAC cache fills; it retries.)
      expect(env.driver!.stderr).not.to.match(/forbidden/i);
      const failuresBefore = countLines(env.driver!.stderr, /WARN\s+rotation check failed/);
      const restarting = env.plane!.restartApiServer(10_000);
      try {
        await eventually(async () => expect(await apiReachable()).to.equal(false), 30_000, 100);
        const outageStarted = Date.now();
        expect(await env.rotate(OBJECT)).to.equal('v2');
        // The rotation fetches v2 but cannot record it: a warning, and the mount stays whole.
        await eventually(() => expect(countLines(env.driver!.stderr, /WARN\s+rotation check failed/)).to.be.greaterThan(failuresBefore), 9_000, 100).catch(env.withLogs);
        expect(lastLine(env.driver!.stderr, /WARN\s+rotation check failed/)).to.match(/secretproviderclasspodstatus/);
        while (Date.now() - outageStarted < 5_000) {
          expect(env.mounts()).to.include(target);
          expect([`${OBJECT}-v1`, `${OBJECT}-v2`]).to.include(await readFile(join(target, OBJECT), 'utf8'));
          await sleep(250);
        }
        expect(await apiReachable(), 'the API server came back too early for this test').to.equal(false);
      } finally {
        await restarting;
      }

      // Back: the failed rotation completes without a driver restart.
      await expectEverywhere('v2');
      await eventually(async () => expect((await env.events(namespace, 'MountRotationComplete')).map((event) => event.involvedObject.uid)).to.include(uid), 30_000, 200).catch(env.withLogs);
      // A rotation after the outage goes all the way too.
      expect(await env.rotate(OBJECT)).to.equal('v3');
      await expectEverywhere('v3');
      expect(env.driver!.running).to.equal(true);
      expect(env.driver!.pid).to.equal(driverPid);
    });

    it('after the outage the watches work again: a class change reaches the mount, a new pod is published', async () => {
      const ADDED = 'res-outage-added';
      await env.admin.putClass(classObject(namespace, CLASS, [OBJECT, ADDED], [{ secretName: SYNCED, type: 'Opaque', data: [{ objectName: OBJECT, key: 'value' }] }]));
      await eventually(async () => expect(await readFile(join(target, ADDED), 'utf8')).to.equal(`${ADDED}-v1`), 90_000, 200).catch(env.withLogs);
      const later = await env.createPod(namespace, 'app-1', { className: CLASS });
      const laterTarget = await env.waitMounted(later.metadata!.uid!, 60_000);
      expect(await env.files(laterTarget)).to.deep.equal({ [OBJECT]: `${OBJECT}-v3`, [ADDED]: `${ADDED}-v1` });
      await removePod(namespace, 'app-1', later.metadata!.uid!);
    });

    it('watches expiring (410 Gone after an etcd compaction): the driver and the kubelet relist and keep working', async () => {
      const relistLine = (resource: string): RegExp => new RegExp(`DEBUG\\s+watch history expired, relisting resource=${resource}\\b`);
      const classRelists = countLines(env.driver!.stderr, relistLine('secretproviderclasses'));
      const podRelists = countLines(env.driver!.stderr, relistLine('pods'));
      const kubeletLists = env.kubeletFeed!.lists;

      const restarting = env.plane!.restartApiServer(3_000);
      try {
        await eventually(async () => expect(await apiReachable()).to.equal(false), 30_000, 100);
        // While the API server is away, move etcd's revision on and compact all history up to it:
        // every resourceVersion a watcher holds is now too old, for etcd and for the new watch cache.
        await etcd('/v3/kv/put', { key: base64('/ssc-e2e/bump'), value: base64('1') });
        const { header } = (await etcd('/v3/kv/put', { key: base64('/ssc-e2e/bump'), value: base64('2') })) as { header: { revision: string } };
        await etcd('/v3/kv/compaction', { revision: header.revision, physical: true });
      } finally {
        await restarting;
      }

      await eventually(() => {
        expect(countLines(env.driver!.stderr, relistLine('secretproviderclasses')), 'class watch relisted').to.be.greaterThan(classRelists);
        expect(countLines(env.driver!.stderr, relistLine('pods')), 'pod watch relisted').to.be.greaterThan(podRelists);
        expect(env.kubeletFeed!.lists, 'fake kubelet relisted').to.be.greaterThan(kubeletLists);
      }, 90_000, 200).catch(env.withLogs);

      // After the relist the watches deliver again.
      const AFTER = 'res-after-410';
      await env.admin.putClass(classObject(namespace, CLASS, [OBJECT, AFTER], [{ secretName: SYNCED, type: 'Opaque', data: [{ objectName: OBJECT, key: 'value' }] }]));
      await eventually(async () => expect(await readFile(join(target, AFTER), 'utf8')).to.equal(`${AFTER}-v1`), 30_000, 200).catch(env.withLogs);
      expect(await env.rotate(OBJECT)).to.equal('v4');
      await expectEverywhere('v4');
      const later = await env.createPod(namespace, 'app-2', { className: CLASS });
      await env.waitMounted(later.metadata!.uid!);
      await removePod(namespace, 'app-2', later.metadata!.uid!);
      expect(env.driver!.pid).to.equal(driverPid);
    });

    after(async () => {
      if (uid !== undefined) await removePod(namespace, 'app-0', uid).catch(() => undefined);
    });
  });

  /** True when the API server answers a request. */
  async function apiReachable(): Promise<boolean> {
    try {
      await env.core.readNamespace({ name: 'default' });
      return true;
    } catch {
      return false;
    }
  }

  /** A call to etcd's JSON gateway (v3 API over HTTP) at the control plane's client URL. */
  async function etcd(path: string, body: unknown): Promise<unknown> {
    const response = await fetch(`${env.plane!.etcdUrl}${path}`, { method: 'POST', body: JSON.stringify(body), signal: AbortSignal.timeout(5_000) });
    const text = await response.text();
    expect(response.status, `etcd ${path}: ${text}`).to.equal(200);
    return JSON.parse(text) as unknown;
  }
});

function countLines(text: string, pattern: RegExp): number {
  return text.split('\n').filter((line) => pattern.test(line)).length;
}

function lastLine(text: string, pattern: RegExp): string {
  return text.split('\n').filter((line) => pattern.test(line)).at(-1) ?? '';
}
