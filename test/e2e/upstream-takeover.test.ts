import { expect } from 'chai';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startFakeProvider, type FakeProviderControls } from '../../src/adapters/fake-provider/fake-provider-server.js';
import { eventually } from '../contract/eventually.js';
import { requireControlPlaneBinaries, startControlPlane, type ControlPlane } from '../support/control-plane.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { requireUpstreamDriver, type UpstreamDriverPeer } from '../support/upstream-driver.js';
import { DriverLane } from './drop-in/driver-lane.js';
import { startThisDriver, startUpstreamDriver } from './node-drivers.js';
import { mountsUnder } from './processes.js';

/**
 * docs/operations.md "Upgrading from upstream", step by step, on one node of a real control plane that keeps
 * upstream's CRDs: the upstream driver v1.6.0 publishes N pods (real tmpfs, its pod status objects, a synced
 * Secret); it stops; this driver starts on the same socket and kubelet root, adopts every mount, warns once
 * that the CRD drops its rotation status fields, rotates the mounts and the Secret by itself and serves
 * kubelet's republishes; then it stops and upstream starts again and serves them too (rollback).
 */
const PODS = ['app-0', 'app-1', 'app-2'];
const CLASS = 'app';
const SECRET = 'db';
/** Both drivers' `--rotation-poll-interval`: this driver checks by itself, upstream acts on republishes at least this far apart. */
const ROTATION_POLL_INTERVAL = '2s';
/** Generous against the interval above: the machine is shared. */
const ROTATION_DEADLINE_MS = 30_000;
const PRUNED_WARNING = 'drops status fields this driver writes';

describe('e2e: taking over from the upstream driver v1.6.0 and rolling back (upstream CRDs kept)', function () {
  this.timeout(300_000);
  let peer: UpstreamDriverPeer;
  let plane: ControlPlane | undefined;
  let providers: TmpfsSandbox | undefined;
  let provider: FakeProviderControls | undefined;
  let lane: DriverLane | undefined;
  const startUpstream = (): Promise<void> => lane!.startDriver((setup) => startUpstreamDriver(peer, setup), ROTATION_POLL_INTERVAL);
  const startOurs = (): Promise<void> => lane!.startDriver(startThisDriver, ROTATION_POLL_INTERVAL);

  before(async function () {
    const binaries = requireControlPlaneBinaries(this);
    peer = requireUpstreamDriver(this);
    plane = await startControlPlane(binaries, { crdDir: join(peer.chart, 'crds') });
    providers = await TmpfsSandbox.create('sscsi-takeover-providers-');
    provider = await startFakeProvider({ socketPath: join(providers.root, 'fake.sock') });
    lane = new DriverLane('takeover', 'node-1', plane, providers.root);
  });

  after(async () => {
    await lane?.dispose();
    await provider?.stop();
    await providers?.dispose();
    await plane?.stop();
  });

  /** The mounted contents of `file` for every pod. */
  const contents = (file: string): Promise<string[]> => Promise.all(PODS.map((pod) => readFile(join(lane!.target(pod), file), 'utf8')));

  /** Waits until every pod's file, pod status object and the synced Secret hold `version` of db-password. */
  async function rotatedTo(version: string, onEachTry: () => Promise<void> = async () => undefined): Promise<void> {
    await eventually(async () => {
      await onEachTry();
      expect(await contents('db-password'), 'mounted files').to.deep.equal(PODS.map(() => `db-password-${version}`));
      for (const pod of PODS) {
        const status = await lane!.readPodStatus(pod);
        expect(status?.status?.objects?.find((object) => object.id === 'db-password')?.version, `pod status of ${pod}`).to.equal(version);
      }
      const secret = await lane!.readSecret(SECRET);
      expect(Buffer.from(secret?.data?.['password'] ?? '', 'base64').toString(), 'synced Secret').to.equal(`db-password-${version}`);
    }, ROTATION_DEADLINE_MS, 250).catch((error: Error) => {
      throw new Error(`${error.message}${lane!.logs()}`);
    });
  }

  it('1. upstream runs the node: it publishes every pod on tmpfs, writes their pod status objects and syncs the Secret', async () => {
    await lane!.start((setup) => startUpstreamDriver(peer, setup), ROTATION_POLL_INTERVAL);
    await lane!.createClass(CLASS, {
      provider: 'fake',
      parameters: { objects: '- name: db-password\n- {name: tls-cert, path: certs/tls.crt}\n' },
      secretObjects: [{ secretName: SECRET, type: 'Opaque', data: [{ objectName: 'db-password', key: 'password' }] }],
    } as never);
    for (const pod of PODS) await lane!.kubelet!.startPod(await lane!.createPod(pod, CLASS));
    expect(await contents('db-password')).to.deep.equal(PODS.map(() => 'db-password-v1'));
    expect(mountsUnder(lane!.sandbox!.kubeletRoot).sort()).to.deep.equal(PODS.map((pod) => lane!.target(pod)).sort());
    await rotatedTo('v1');
  });

  it('2. upstream stops (its DaemonSet pod is replaced): the mounts stay and pods keep reading their files', async () => {
    await lane!.stopDriver();
    expect(mountsUnder(lane!.sandbox!.kubeletRoot)).to.have.length(PODS.length);
    expect(await contents('db-password')).to.deep.equal(PODS.map(() => 'db-password-v1'));
  });

  it('3. this driver starts: it adopts every mount from the node\'s pod status objects and warns once that the kept CRD drops its status fields', async () => {
    await startOurs();
    const recovery = await lane!.driver!.process.waitForStderr(/restart recovery done.*\brecovered\W+(\d+)/, 30_000);
    expect(Number(recovery[1]), recovery[0]).to.equal(PODS.length);
    await lane!.driver!.process.waitForStderr(new RegExp(PRUNED_WARNING), 30_000);
  });

  it('4. it rotates the adopted mounts and the synced Secret by itself, with no kubelet call', async () => {
    const { version } = provider!.rotate('db-password');
    await rotatedTo(version);
    // The kept CRD has no place for the rotation fields: the API server dropped them, nothing failed.
    const status = await lane!.readPodStatus(PODS[0]!);
    expect(status?.status).not.to.have.any.keys('lastRotationTime', 'nextRotationTime', 'lastRotationError');
    expect(lane!.driver!.process.stderr.split(PRUNED_WARNING).length - 1, 'warnings about the CRD').to.equal(1);
  });

  it('5. it serves kubelet\'s republishes of the adopted volumes', async () => {
    await lane!.kubelet!.republishAll();
    expect(await contents('certs/tls.crt')).to.deep.equal(PODS.map(() => 'tls-cert-v1'));
  });

  it('6. rollback: this driver stops, upstream starts again and its republishes rotate the same mounts', async () => {
    await lane!.stopDriver();
    expect(mountsUnder(lane!.sandbox!.kubeletRoot)).to.have.length(PODS.length);
    await startUpstream();
    const { version } = provider!.rotate('db-password');
    // Upstream rotates only on kubelet's republishes (requiresRepublish), at most once per interval per mount.
    await rotatedTo(version, () => lane!.kubelet!.republishAll());
  });

  it('7. upstream unpublishes every volume when the pods go: nothing stays mounted', async () => {
    for (const pod of PODS) await lane!.kubelet!.deletePod(lane!.pods.get(pod)!.uid);
    expect(mountsUnder(lane!.sandbox!.kubeletRoot)).to.deep.equal([]);
  });
});
