import { expect } from 'chai';
import { expectNoSecretLeaked, expectRejection } from '../../support/driver-assertions.js';
import { CLASS_NAME, DriverHarness } from '../../support/driver-harness.js';

describe('Publishing again on a published target', () => {
  let harness: DriverHarness;

  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  describe('with the rotation loop idle', () => {
    beforeEach(() => {
      // The loop is not started, so only the republish can check the provider.
      harness = new DriverHarness({ startRotationLoop: false });
      harness.addClass();
    });

    it('succeeds without asking the provider when the binding is not due', async () => {
      const pod = harness.addPod();
      await harness.publish(pod);
      harness.store.rotate('db-password');

      await harness.publish(pod);

      expect(harness.provider.calls).to.equal(1);
      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
      expect(harness.metrics.count('rotation_skipped_total', { reason: 'NotDue' })).to.equal(1);
    });

    it('asks the provider, with the mounted versions, and rotates the files when the binding is due', async () => {
      const pod = harness.addPod();
      await harness.publish(pod);
      harness.store.rotate('db-password');
      harness.clock.advance(harness.rotation.intervalMs);

      await harness.publish(pod);

      expect(harness.provider.calls).to.equal(2);
      expect(harness.fake.requests[1]?.request.currentObjectVersion).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
      expect(harness.podStatus(pod)?.status?.objects).to.deep.equal([{ id: 'db-password', version: 'v2' }]);
    });

    it('keeps a working mount and succeeds when the due check fails', async () => {
      const pod = harness.addPod();
      await harness.publish(pod);
      const before = await harness.snapshot(pod.target);
      harness.fake.fail({ kind: 'unavailable' });
      harness.clock.advance(harness.rotation.intervalMs);

      await harness.publish(pod);

      expect(harness.provider.calls).to.equal(2);
      expect(await harness.snapshot(pod.target)).to.deep.equal(before);
    });

    it('uses the fresh credentials of the republish for later checks', async () => {
      const pod = harness.addPod();
      await harness.publish(pod);
      await harness.publish(pod, CLASS_NAME, { secrets: { token: 'fresh-credential' } });
      harness.clock.advance(harness.rotation.intervalMs);

      await harness.publish(pod, CLASS_NAME, { secrets: { token: 'fresh-credential' } });

      expect(harness.fake.requests[1]?.request.secrets).to.equal('{"token":"fresh-credential"}');
    });
  });

  describe('with different arguments or while busy', () => {
    beforeEach(() => {
      harness = new DriverHarness();
      harness.addClass();
      harness.addClass({ name: 'other-secrets' });
    });

    it('refuses the same target with a different class (AlreadyPublished) and keeps the mount byte for byte', async () => {
      const pod = harness.addPod();
      await harness.publish(pod);
      const before = await harness.snapshot(pod.target);

      await expectRejection(harness.publish(pod, 'other-secrets'), 'AlreadyPublished');

      expect(await harness.snapshot(pod.target)).to.deep.equal(before);
      expect(harness.provider.calls).to.equal(1);
      expect(harness.podStatus(pod, 'other-secrets')).to.equal(undefined);
      expect(harness.registry.get(pod.target)?.binding.request.className).to.equal(CLASS_NAME);
    });

    it('refuses a second publish of a target while the first is in flight (OperationPending)', async () => {
      const pod = harness.addPod();
      const held = harness.provider.holdNext();
      const first = harness.publish(pod);
      await held.entered;

      await expectRejection(harness.publish(pod), 'OperationPending');

      held.release();
      await first;
      expect(harness.provider.calls).to.equal(1);
      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
    });

    it('publishes another target while one is in flight (the lock is per target)', async () => {
      const [slow, quick] = [harness.addPod({ name: 'slow' }), harness.addPod({ name: 'quick' })];
      const held = harness.provider.holdNext();
      const first = harness.publish(slow);
      await held.entered;

      await harness.publish(quick);
      held.release();
      await first;

      expect(await harness.mountedText(quick.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
      expect(await harness.mountedText(slow.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
    });
  });
});
