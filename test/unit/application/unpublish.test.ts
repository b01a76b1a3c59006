import { expect } from 'chai';
import { targetPathFor } from '../../support/builders.js';
import { expectNoSecretLeaked, expectRejection } from '../../support/driver-assertions.js';
import { aSyncedPassword, DriverHarness, type TestPod } from '../../support/driver-harness.js';
import { FaultyMounter } from '../../support/faulty-mounter.js';

describe('Unpublishing a volume', () => {
  let harness: DriverHarness;
  let pod: TestPod;

  beforeEach(async () => {
    harness = new DriverHarness();
    harness.addClass({ secretObjects: [aSyncedPassword()] });
    pod = harness.addPod();
    await harness.publish(pod);
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  it('removes the files, the hidden versions and the target directory', async () => {
    await harness.unpublish(pod.target);

    expect(harness.exists(pod.target)).to.equal(false);
    expect(await harness.mountedFiles(pod.target)).to.deep.equal([]);
  });

  it('leaves the pod status object and the Secret it owns to the garbage collector, which removes them with the pod', async () => {
    await harness.unpublish(pod.target);

    expect(harness.podStatus(pod)?.status?.mounted).to.equal(true);
    expect(harness.secret('app-synced')).not.to.equal(undefined);
    harness.cluster.delete('Pod', pod.namespace, pod.name);
    expect(harness.podStatus(pod)).to.equal(undefined);
    expect(harness.secret('app-synced')).to.equal(undefined);
  });

  it('stops rotating the binding: later passes never ask the provider about it', async () => {
    await harness.unpublish(pod.target);
    harness.store.rotate('db-password');

    await harness.advance(harness.rotation.intervalMs * 3);

    expect(harness.provider.calls).to.equal(1);
    expect(harness.registry.all()).to.deep.equal([]);
    expect(harness.events()).to.deep.equal([]);
  });

  it('counts node_unpublish_total', async () => {
    await harness.unpublish(pod.target);

    expect(harness.metrics.count('node_unpublish_total', { os_type: 'linux' })).to.equal(1);
    expect(harness.metrics.count('node_unpublish_error_total')).to.equal(0);
  });

  it('succeeds when called twice', async () => {
    await harness.unpublish(pod.target);

    await harness.unpublish(pod.target);

    expect(harness.exists(pod.target)).to.equal(false);
    expect(harness.metrics.count('node_unpublish_total')).to.equal(2);
  });

  it('succeeds for a target this driver never published, touching no other volume', async () => {
    const before = await harness.snapshot(pod.target);

    await harness.unpublish(targetPathFor('never-published'));

    expect(await harness.snapshot(pod.target)).to.deep.equal(before);
    expect(harness.podStatus(pod)).to.not.equal(undefined);
    expect(harness.registry.all()).to.have.length(1);
  });

  it('refuses a path outside the kubelet root (InvalidTargetPath) and leaves the file system alone', async () => {
    harness.volume.mkdirSync('/etc/secrets', { recursive: true });
    harness.volume.writeFileSync('/etc/secrets/keep', 'kept');

    await expectRejection(harness.unpublish('/etc/secrets'), 'InvalidTargetPath');

    expect(harness.volume.readFileSync('/etc/secrets/keep', 'utf8')).to.equal('kept');
    expect(harness.exists(pod.target)).to.equal(true);
  });

  it('can publish the same target again afterwards', async () => {
    await harness.unpublish(pod.target);

    await harness.publish(pod);

    expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
    expect(harness.podStatus(pod)?.status?.mounted).to.equal(true);
  });

  it('cancels a rotation check holding the target and wins at once: nothing of the check is written, the binding is not checked again', async () => {
    const statusBefore = harness.podStatus(pod);
    const held = harness.provider.holdNext();
    harness.clock.advance(harness.rotation.intervalMs);
    await held.entered;
    harness.store.rotate('db-password');

    await harness.unpublish(pod.target);

    expect(await held.cancelled, 'the provider call was given up').to.have.property('code', 'Cancelled');
    expect(harness.exists(pod.target)).to.equal(false);
    expect(harness.podStatus(pod), 'the cancelled check wrote nothing to the pod status (left to the garbage collector)').to.deep.equal(statusBefore);
    expect(harness.events('MountRotationFailed'), 'a cancelled check is no failure').to.deep.equal([]);
    expect(harness.metrics.count('rotation_reconcile_error_total')).to.equal(0);
    const calls = harness.provider.calls;
    await harness.advance(harness.rotation.intervalMs * 2);
    expect(harness.provider.calls).to.equal(calls);
  });

  it('answers a republish during a rotation check of the same mount with success, without waiting', async () => {
    const held = harness.provider.holdNext();
    harness.clock.advance(harness.rotation.intervalMs);
    await held.entered;

    await harness.publish(pod);

    held.release();
    await harness.advance(0);
    expect(harness.exists(pod.target)).to.equal(true);
  });
});

describe('Unpublishing a volume that fails', () => {
  let harness: DriverHarness;
  let mounter: FaultyMounter;
  let pod: TestPod;

  beforeEach(async () => {
    harness = new DriverHarness({ mounter: (inner) => (mounter = new FaultyMounter(inner)) });
    harness.addClass();
    pod = harness.addPod();
    await harness.publish(pod);
    harness.store.rotate('db-password');
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  /** Moves the pod's directory away and links it back: a symbolic link below the kubelet root. */
  const linkPodDirectory = (): (() => void) => {
    const podDirectory = pod.target.slice(0, pod.target.indexOf('/volumes/'));
    harness.volume.renameSync(podDirectory, `${podDirectory}-moved`);
    harness.volume.symlinkSync(`${podDirectory}-moved`, podDirectory);
    return () => {
      harness.volume.unlinkSync(podDirectory);
      harness.volume.renameSync(`${podDirectory}-moved`, podDirectory);
    };
  };

  const stillMounted = [
    { failure: 'the unmount fails (EBUSY)', code: 'Internal', arrange: () => mounter.failNext('unmount', 'EBUSY') },
    { failure: 'the target has a symbolic link below the kubelet root', code: 'InvalidTargetPath', arrange: linkPodDirectory },
  ] as const;

  for (const { failure, code, arrange } of stillMounted) {
    it(`keeps rotating a volume left mounted when ${failure}, and kubelet's retry takes it away`, async () => {
      const undo = arrange();

      await expectRejection(harness.unpublish(pod.target), code);
      if (typeof undo === 'function') undo();

      expect(harness.registry.get(pod.target), 'the binding is still registered').to.not.equal(undefined);
      expect(harness.metrics.count('node_unpublish_error_total')).to.equal(1);
      await harness.advance(harness.rotation.intervalMs);
      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });

      await harness.unpublish(pod.target);

      expect(harness.exists(pod.target)).to.equal(false);
      expect(harness.registry.all()).to.deep.equal([]);
    });
  }

  it('cancels a rotation check holding the target and lets no check run until the failed unpublish has ended', async () => {
    const held = harness.provider.holdNext();
    harness.clock.advance(harness.rotation.intervalMs);
    await held.entered;
    const callsBefore = harness.provider.calls;
    mounter.failNext('unmount', 'EBUSY');

    await expectRejection(harness.unpublish(pod.target), 'Internal');

    expect(await held.cancelled, 'the provider call was given up').to.have.property('code', 'Cancelled');
    expect(harness.provider.calls, 'no check ran during the unpublish').to.equal(callsBefore);
    expect(harness.registry.get(pod.target)).to.not.equal(undefined);
    await harness.advance(0);
    expect(await harness.mountedText(pod.target), 'the due check ran after it').to.deep.equal({ 'db-password': 'db-password-v2' });
  });

  it('stops rotating a volume whose unmount succeeded before a later step failed: nothing is written into the bare directory', async () => {
    mounter.failNext('removeTarget', 'EACCES');

    await expectRejection(harness.unpublish(pod.target), 'Internal');

    expect(harness.registry.all()).to.deep.equal([]);
    await harness.advance(harness.rotation.intervalMs * 3);
    expect(harness.provider.calls).to.equal(1);
    expect(harness.entries(pod.target)).to.deep.equal([]);

    await harness.unpublish(pod.target);

    expect(harness.exists(pod.target)).to.equal(false);
  });
});
