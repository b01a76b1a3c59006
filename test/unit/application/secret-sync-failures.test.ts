import { expect } from 'chai';
import { KubeApiError } from '../../../src/adapters/memory-cluster/cluster-errors.js';
import { aSecretResource } from '../../support/cluster-builders.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { aSyncedPassword, CLASS_NAME, DriverHarness, NAMESPACE, type TestPod } from '../../support/driver-harness.js';

describe('Synced Secrets that cannot be written, and classes or providers that go away', () => {
  let harness: DriverHarness;
  let pod: TestPod;

  beforeEach(() => {
    harness = new DriverHarness();
    pod = harness.addPod();
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  /** Makes every write of a Secret fail until the returned function is called. */
  const refuseSecretWrites = (): (() => void) =>
    harness.cluster.interceptWrites(({ kind }) => (kind === 'Secret' ? new KubeApiError('InternalError', 'etcd is unhappy') : undefined));

  it('mounts the files and records FailedToCreateSecret when the Secret cannot be created', async () => {
    harness.addClass({ secretObjects: [aSyncedPassword()] });
    refuseSecretWrites();

    await harness.publish(pod);

    expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
    const [failed] = harness.events('FailedToCreateSecret');
    expect(failed?.type).to.equal('Warning');
    expect(failed?.message).to.contain('app-synced').and.to.contain('etcd is unhappy');
    expect(harness.secret('app-synced')).to.equal(undefined);
  });

  it('creates the Secret on the next check although nothing else changed', async () => {
    harness.addClass({ secretObjects: [aSyncedPassword()] });
    const allowSecretWrites = refuseSecretWrites();
    await harness.publish(pod);
    allowSecretWrites();

    await harness.advance(harness.rotation.intervalMs);

    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1' });
    expect(harness.events('MountRotationComplete')).to.deep.equal([]);
  });

  it('refuses to take over a Secret it does not manage, and says so on the pod', async () => {
    harness.cluster.create(aSecretResource({ name: 'app-synced', data: { password: 'hand-made' } }));
    harness.addClass({ secretObjects: [aSyncedPassword()] });

    await harness.publish(pod);

    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'hand-made' });
    expect(harness.events('FailedToCreateSecret')[0]?.message).to.contain('not managed');
  });

  describe('during rotation', () => {
    beforeEach(async () => {
      harness.addClass({ secretObjects: [aSyncedPassword()] });
      await harness.publish(pod);
    });

    it('rotates the files, records SecretRotationFailed and counts a SecretSyncFailed error when the Secret cannot be patched', async () => {
      harness.store.rotate('db-password');
      refuseSecretWrites();

      await harness.advance(harness.rotation.intervalMs);

      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
      expect(harness.events('MountRotationComplete')).to.have.length(1);
      expect(harness.events('SecretRotationFailed')[0]?.type).to.equal('Warning');
      expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1' });
      expect(harness.metrics.count('rotation_reconcile_error_total', { error_type: 'SecretSyncFailed', rotated: 'true' })).to.equal(1);
    });

    it('retries the Secret after a backoff, sooner than the interval', async () => {
      harness.store.rotate('db-password');
      const allowSecretWrites = refuseSecretWrites();
      await harness.advance(harness.rotation.intervalMs);
      allowSecretWrites();

      await harness.advance(harness.rotation.backoffBaseMs);

      expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v2' });
      expect(harness.events('SecretRotationComplete')).to.have.length(1);
    });

    it('keeps the mount when the class is deleted, and reports ClassNotFound', async () => {
      const before = await harness.snapshot(pod.target);
      harness.cluster.delete('SecretProviderClass', NAMESPACE, CLASS_NAME);
      await harness.cluster.whenIdle();

      await harness.advance(0);

      expect(harness.provider.calls).to.equal(1);
      expect(await harness.snapshot(pod.target)).to.deep.equal(before);
      expect(harness.events('MountRotationFailed')[0]?.message).to.contain('not found');
      expect(harness.metrics.count('rotation_reconcile_error_total', { error_type: 'ClassNotFound' })).to.equal(1);
    });
  });

  describe('a provider that writes the files itself (no files in its answer)', () => {
    it('publishes without writing a file and records the versions', async () => {
      harness.addClass();
      harness.provider.answerFiles([]);

      await harness.publish(pod);

      expect(harness.exists(pod.target)).to.equal(true);
      expect(harness.entries(pod.target)).to.deep.equal([]);
      expect(harness.podStatus(pod)?.status?.objects).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
    });

    it('records the new versions on rotation without touching the target', async () => {
      harness.addClass();
      harness.provider.answerFiles([]);
      await harness.publish(pod);
      harness.store.rotate('db-password');

      await harness.advance(harness.rotation.intervalMs);

      expect(harness.entries(pod.target)).to.deep.equal([]);
      expect(harness.podStatus(pod)?.status?.objects).to.deep.equal([{ id: 'db-password', version: 'v2' }]);
      expect(harness.events('MountRotationComplete')).to.have.length(1);
    });
  });
});
