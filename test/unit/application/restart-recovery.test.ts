import { expect } from 'chai';
import type { OwnerReferenceShape } from '../../../src/adapters/kube-objects/object-shapes.js';
import { RecoverBindings, type RecoveryReport } from '../../../src/application/recover-bindings.js';
import { EventReason } from '../../../src/domain/events.js';
import { RotationAnnotation } from '../../../src/domain/rotation-policy.js';
import { parseVolumeRequest, UNKNOWN_VOLUME_ID } from '../../../src/domain/volume-binding.js';
import { KUBELET_ROOT, targetPathFor } from '../../support/builders.js';
import { aPodStatusResource } from '../../support/cluster-builders.js';
import { expectNoSecretLeaked, expectRejection } from '../../support/driver-assertions.js';
import { aSyncedPassword, CLASS_NAME, DriverHarness, type HarnessOptions, type TestPod } from '../../support/driver-harness.js';

describe('Restart recovery: rebuilding the bindings a restarted driver forgot', () => {
  let harness: DriverHarness;

  function start(options: HarnessOptions = {}): void {
    harness = new DriverHarness(options);
    harness.addClass({ secretObjects: [aSyncedPassword()] });
  }

  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  /** What a restart loses: the bindings in memory. The cluster, the files and the mounts stay. */
  function forgetBindings(): void {
    for (const { binding } of harness.registry.all()) harness.registry.delete(binding.request.target.path);
  }

  async function recover(): Promise<RecoveryReport> {
    const report = await harness.container.get(RecoverBindings).execute();
    await harness.cluster.whenIdle();
    return report;
  }

  async function publishedThenRestarted(): Promise<TestPod> {
    const pod = harness.addPod();
    await harness.publish(pod);
    forgetBindings();
    return pod;
  }

  /** A pod status record of this node for a target that is mounted (a directory, with the memfs mounter). */
  function mountedRecord(options: { podName: string; targetUid: string; volumeName?: string; ownerUid: string }): string {
    const target = targetPathFor(options.targetUid, options.volumeName);
    harness.volume.mkdirSync(target, { recursive: true });
    const owner: OwnerReferenceShape = { apiVersion: 'v1', kind: 'Pod', name: options.podName, uid: options.ownerUid };
    const record = aPodStatusResource({ name: `${options.podName}-default-${CLASS_NAME}`, owner });
    harness.cluster.create({ ...record, status: { ...record.status, podName: options.podName, targetPath: target } });
    return target;
  }

  describe('with rotation enabled', () => {
    beforeEach(() => start());

    it('registers the request kubelet sent, without its volume id, and the versions the record names', async () => {
      const pod = await publishedThenRestarted();

      const report = await recover();

      expect(report.recovered).to.deep.equal([{ target: pod.target, pod: `default/${pod.name}`, className: CLASS_NAME, reason: '' }]);
      const { binding } = harness.registry.get(pod.target)!;
      expect(binding.request).to.deep.equal({ ...parseVolumeRequest(harness.commandFor(pod), KUBELET_ROOT), volumeId: UNKNOWN_VOLUME_ID });
      expect(binding.objectVersions).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
      expect(binding.providerName).to.equal('fake');
    });

    it('resumes rotation without a kubelet call: a store change reaches the files, asked with the mounted versions', async () => {
      const pod = await publishedThenRestarted();
      harness.store.rotate('db-password');

      await recover();
      await harness.advance(0);

      expect(harness.provider.calls).to.equal(2);
      expect(harness.fake.requests[1]?.request.currentObjectVersion).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
      expect(harness.podStatus(pod)?.status?.objects).to.deep.equal([{ id: 'db-password', version: 'v2' }]);
      expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v2' });
    });

    it('syncs the Secrets again on the first check, though the store did not change', async () => {
      await publishedThenRestarted();
      harness.cluster.delete('Secret', 'default', 'app-synced');

      await recover();
      await harness.advance(0);

      expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1' });
    });

    it("accepts kubelet's republish after recovery and from then on holds it to kubelet's volume id", async () => {
      const pod = await publishedThenRestarted();
      await recover();

      await harness.publish(pod);

      expect(harness.registry.get(pod.target)?.binding.request.volumeId).to.equal(harness.commandFor(pod).volumeId);
      await expectRejection(harness.publish(pod, CLASS_NAME, { volumeId: 'csi-another' }), 'AlreadyPublished');
    });

    it('takes a recovered volume away when kubelet unpublishes it, and stops rotating it', async () => {
      const pod = await publishedThenRestarted();
      await recover();

      await harness.unpublish(pod.target);

      expect(harness.exists(pod.target)).to.equal(false);
      expect(harness.registry.get(pod.target)).to.equal(undefined);
    });

    it('leaves a target kubelet published first to kubelet', async () => {
      const pod = await publishedThenRestarted();
      await harness.publish(pod);
      const registered = harness.registry.get(pod.target);

      const report = await recover();

      expect(report.alreadyPublished).to.deep.equal([pod.target]);
      expect(report.recovered).to.deep.equal([]);
      expect(harness.registry.get(pod.target)).to.equal(registered);
    });

    it('reports a record whose target is no longer mounted as stale and registers nothing', async () => {
      const pod = await publishedThenRestarted();
      harness.volume.rmSync(pod.target, { recursive: true });

      const report = await recover();

      expect(report.stale).to.deep.equal([{ target: pod.target, pod: `default/${pod.name}`, className: CLASS_NAME, reason: 'nothing is mounted at the target' }]);
      expect(harness.registry.all()).to.deep.equal([]);
    });

    it('reports a mount whose pod is gone as orphaned, with a warning naming pod, class and target, and deletes nothing', async () => {
      const target = mountedRecord({ podName: 'gone-0', targetUid: 'gone-uid', ownerUid: 'gone-uid' });

      const report = await recover();

      expect(report.orphaned).to.deep.equal([{ target, pod: 'default/gone-0', className: CLASS_NAME, reason: 'pod default/gone-0 no longer exists' }]);
      expect(harness.registry.all()).to.deep.equal([]);
      expect(harness.exists(target)).to.equal(true);
      expect(harness.cluster.get('SecretProviderClassPodStatus', 'default', `gone-0-default-${CLASS_NAME}`)).to.not.equal(undefined);
      const warning = harness.logger.lines.find((line) => line.startsWith('warn orphaned mount'));
      expect(warning).to.include('default/gone-0').and.include(CLASS_NAME).and.include(target);
    });

    it('reports a mount whose pod was replaced by one of the same name as orphaned', async () => {
      const pod = harness.addPod({ name: 'web-0', uid: 'new-uid' });
      const target = mountedRecord({ podName: pod.name, targetUid: 'old-uid', ownerUid: 'old-uid' });

      const report = await recover();

      expect(report.orphaned.map((entry) => [entry.target, entry.reason])).to.deep.equal([
        [target, 'pod default/web-0 is now uid new-uid; the target belongs to uid old-uid'],
      ]);
    });

    it('reports a mount the pod has no volume for as unrecoverable', async () => {
      const pod = harness.addPod({ name: 'web-0', uid: 'web-uid' });
      const target = mountedRecord({ podName: pod.name, targetUid: pod.uid, volumeName: 'renamed', ownerUid: pod.uid });

      const report = await recover();

      expect(report.unrecoverable.map((entry) => [entry.target, entry.reason])).to.deep.equal([[target, 'pod default/web-0 has no csi volume "renamed"']]);
      expect(harness.logger.lines.some((line) => line.startsWith('warn cannot resume rotation') && line.includes(target))).to.equal(true);
    });

    it('recovers a mount whose class is gone, noting it, so rotation resumes when the class returns', async () => {
      const pod = await publishedThenRestarted();
      harness.cluster.delete('SecretProviderClass', 'default', CLASS_NAME);

      const report = await recover();
      await harness.advance(0);

      expect(report.recovered.map((entry) => entry.reason)).to.deep.equal([`class default/${CLASS_NAME} not found: checks fail until it exists again`]);
      expect(harness.events(EventReason.mountRotationFailed)).to.have.length(1);
      harness.store.rotate('db-password');
      harness.addClass({ secretObjects: [aSyncedPassword()] });
      await harness.cluster.whenIdle();
      await harness.advance(0);
      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
    });

    it('logs one summary line with the counts', async () => {
      await publishedThenRestarted();
      mountedRecord({ podName: 'gone-0', targetUid: 'gone-uid', ownerUid: 'gone-uid' });

      await recover();

      const summaries = harness.logger.lines.filter((line) => line.startsWith('info restart recovery done'));
      expect(summaries).to.deep.equal(['info restart recovery done {"recovered":1,"orphaned":1,"stale":0,"unrecoverable":0,"alreadyPublished":0}']);
    });

    it("counts the rotation request the pod already carries as served by the first check", async () => {
      const pod = harness.addPod({ annotations: { [RotationAnnotation.rotateRequestedAt]: 'before-restart' } });
      await harness.publish(pod);
      forgetBindings();

      await recover();

      expect(harness.registry.get(pod.target)?.schedule.handledRequests).to.deep.equal({ [`pod:default/${pod.name}`]: 'before-restart' });
    });
  });

  it('spreads the first checks over the jitter fraction of the interval', async () => {
    start({ rotation: { jitterFraction: 0.5 } });
    const pod = await publishedThenRestarted();

    await recover();

    // The manual clock's random source answers 0.5: half of 0.5 x 10s.
    expect(harness.registry.get(pod.target)?.schedule.nextDueAt).to.equal(harness.clock.now() + 2_500);
  });

  it('registers the bindings with rotation disabled too, so a republish finds its mount, and never asks the provider', async () => {
    start({ rotation: { enabled: false } });
    const pod = await publishedThenRestarted();

    const report = await recover();
    await harness.advance(harness.rotation.intervalMs * 2);
    await harness.publish(pod);

    expect(report.recovered).to.have.length(1);
    expect(harness.provider.calls).to.equal(1);
  });
});
