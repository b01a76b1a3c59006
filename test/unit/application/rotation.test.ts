import { expect } from 'chai';
import { toKubeTime as kubeTime } from '../../../src/adapters/kube-objects/object-shapes.js';
import { readSecretRotationMarker, syncedVersionsDigest } from '../../../src/domain/restart-on-rotation.js';
import { RotationAnnotation } from '../../../src/domain/rotation-policy.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { aSyncedPassword, DriverHarness, objectsParameter, type TestPod } from '../../support/driver-harness.js';
import type { VolumeSettings } from '../../../src/domain/volume-ownership.js';
import type { VolumeMounter } from '../../../src/ports/volume-mounter.js';

/** The mounter, with each target it is asked to fit noted in `fits`. */
function countingFits(inner: VolumeMounter, fits: string[]): VolumeMounter {
  return new Proxy(inner, {
    get: (mounter, name, receiver) =>
      name === 'fit' ? (target: string, settings: VolumeSettings) => (fits.push(target), mounter.fit(target, settings)) : Reflect.get(mounter, name, receiver),
  });
}

describe('Rotating a mounted volume on the rotation interval', () => {
  let harness: DriverHarness;
  let pod: TestPod;
  const interval = (): number => harness.rotation.intervalMs;

  beforeEach(async () => {
    harness = new DriverHarness();
    harness.addClass({ parameters: { objects: objectsParameter('db-password', 'api-key') }, secretObjects: [aSyncedPassword()] });
    pod = harness.addPod();
    await harness.publish(pod);
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  describe('when the external store changed', () => {
    it('does not look before the interval has passed', async () => {
      harness.store.rotate('db-password');

      await harness.advance(interval() - 1);

      expect(harness.provider.calls).to.equal(1);
      expect(await harness.mountedText(pod.target)).to.include({ 'db-password': 'db-password-v1' });
    });

    it('updates the mounted files, the pod status versions and the synced Secret after the interval', async () => {
      harness.store.rotate('db-password');

      await harness.advance(interval());

      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'api-key': 'api-key-v1', 'db-password': 'db-password-v2' });
      expect(harness.podStatus(pod)?.status?.objects).to.deep.equal([
        { id: 'api-key', version: 'v1' },
        { id: 'db-password', version: 'v2' },
      ]);
      expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v2' });
    });

    it('marks the synced Secret with the digest of the rotated versions and the time (what the restarter reads), which a first mount does not', async () => {
      const marker = () => readSecretRotationMarker(harness.cluster.get('Secret', 'default', 'app-synced')!.metadata.annotations ?? {});
      expect(marker(), 'after the first mount').to.equal(undefined);
      harness.store.rotate('db-password');

      await harness.advance(interval());

      const versions = [{ id: 'api-key', version: 'v1' }, { id: 'db-password', version: 'v2' }];
      expect(marker()).to.deep.equal({ versions: syncedVersionsDigest(versions), at: harness.clock.now() });
    });

    it('sends the mounted versions to the provider as current_object_version', async () => {
      await harness.advance(interval());

      expect(harness.fake.requests[1]?.request.currentObjectVersion).to.deep.equal([
        { id: 'api-key', version: 'v1' },
        { id: 'db-password', version: 'v1' },
      ]);
    });

    it('records MountRotationComplete and SecretRotationComplete on the pod', async () => {
      harness.store.rotate('db-password');

      await harness.advance(interval());

      const [mounted] = harness.events('MountRotationComplete');
      const [synced] = harness.events('SecretRotationComplete');
      expect(mounted?.type).to.equal('Normal');
      expect(mounted?.involvedObject).to.include({ kind: 'Pod', name: pod.name, uid: pod.uid });
      expect(mounted?.message).to.contain('db-password v1 -> v2');
      expect(synced?.involvedObject).to.include({ kind: 'Pod', uid: pod.uid });
      expect(synced?.message).to.contain('app-synced');
    });

    it('counts rotation_reconcile_total as rotated', async () => {
      harness.store.rotate('api-key');

      await harness.advance(interval());

      expect(harness.metrics.count('rotation_reconcile_total', { provider: 'fake', rotated: 'true' })).to.equal(1);
      expect(harness.metrics.count('rotation_reconcile_error_total')).to.equal(0);
    });

    it('writes the pod status once per rotation, with lastRotationTime and nextRotationTime (the time of the next check)', async () => {
      let statusWrites = 0;
      harness.cluster.watch('SecretProviderClassPodStatus', () => (statusWrites += 1));
      harness.store.rotate('db-password');

      await harness.advance(interval());

      const rotatedAt = harness.clock.now();
      const object = harness.podStatus(pod)!;
      await harness.cluster.whenIdle();
      expect(statusWrites).to.equal(1);
      expect(object.status?.lastRotationTime).to.equal(kubeTime(rotatedAt));
      expect(object.status?.nextRotationTime).to.equal(kubeTime(rotatedAt + interval()));
      expect(object.status).not.to.have.property('lastRotationError');
    });

    it('checks again one interval after a rotation', async () => {
      harness.store.rotate('db-password');
      await harness.advance(interval());
      harness.store.rotate('db-password');

      await harness.advance(interval());

      expect(harness.provider.calls).to.equal(3);
      expect(await harness.mountedText(pod.target)).to.include({ 'db-password': 'db-password-v3' });
    });
  });

  describe('when nothing changed in the store', () => {
    it('writes no file, no pod status, no Secret and records no event', async () => {
      const dataDir = harness.dataDir(pod.target);
      const statusVersion = harness.podStatus(pod)?.metadata.resourceVersion;
      const secretVersion = harness.secret('app-synced')?.metadata.resourceVersion;
      const events = harness.events().length;

      await harness.advance(interval());

      expect(harness.provider.calls).to.equal(2);
      expect(harness.dataDir(pod.target)).to.equal(dataDir);
      expect(harness.podStatus(pod)?.metadata.resourceVersion).to.equal(statusVersion);
      expect(harness.secret('app-synced')?.metadata.resourceVersion).to.equal(secretVersion);
      expect(harness.events()).to.have.length(events);
      expect(harness.metrics.count('rotation_reconcile_total', { rotated: 'false' })).to.equal(1);
    });

    it('does not even fit the volume: the writer holds that payload, so the check ends before the files', async () => {
      const fits: string[] = [];
      const counted = new DriverHarness({ mounter: (inner) => countingFits(inner, fits) });
      try {
        counted.addClass({ parameters: { objects: objectsParameter('db-password') } });
        const counting = counted.addPod();
        await counted.publish(counting);
        const afterPublish = fits.length;
        expect(afterPublish, 'the first mount fits the volume').to.be.greaterThan(0);

        await counted.advance(counted.rotation.intervalMs);
        expect(counted.provider.calls).to.equal(2);
        expect(fits, 'an unchanged check').to.have.length(afterPublish);

        counted.store.rotate('db-password');
        await counted.advance(counted.rotation.intervalMs);
        expect(fits, 'a changed payload fits again').to.have.length(afterPublish + 1);
        expect(await counted.mountedText(counting.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
      } finally {
        await counted.stop();
      }
    });
  });

  describe('when the provider fails', () => {
    beforeEach(() => {
      harness.store.rotate('db-password');
      harness.fake.fail({ kind: 'provider-error', code: 'RateLimited' });
    });

    it('keeps the old files byte for byte, the pod status and the Secret', async () => {
      const before = await harness.snapshot(pod.target);

      await harness.advance(interval());

      expect(harness.provider.calls).to.equal(2);
      expect(await harness.snapshot(pod.target)).to.deep.equal(before);
      expect(harness.podStatus(pod)?.status?.objects).to.deep.include({ id: 'db-password', version: 'v1' });
      expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1' });
    });

    it('records a MountRotationFailed Warning naming the reason and counts rotation_reconcile_error_total', async () => {
      await harness.advance(interval());

      const [failed] = harness.events('MountRotationFailed');
      expect(failed?.type).to.equal('Warning');
      expect(failed?.involvedObject).to.include({ name: pod.name, uid: pod.uid });
      expect(failed?.message).to.contain('RateLimited');
      expect(harness.metrics.count('rotation_reconcile_error_total', { provider: 'fake', error_type: 'Other' })).to.equal(1);
      expect(harness.events('MountRotationComplete')).to.deep.equal([]);
    });

    it('writes lastRotationError into the pod status once per distinct reason, and clears it after a good check', async () => {
      await harness.advance(interval());
      const failed = harness.podStatus(pod)!;
      expect(failed.status?.lastRotationError).to.contain('RateLimited');
      expect(failed.status?.nextRotationTime).to.equal(kubeTime(harness.clock.now() + harness.rotation.backoffBaseMs));

      await harness.advance(harness.rotation.backoffBaseMs);
      expect(harness.provider.calls, 'a second failing check').to.equal(3);
      expect(harness.podStatus(pod)?.metadata.resourceVersion, 'the same failure is not written again').to.equal(failed.metadata.resourceVersion);

      harness.fake.fail(undefined);
      await harness.advance(2 * harness.rotation.backoffBaseMs);
      const recovered = harness.podStatus(pod)!.status!;
      expect(recovered).not.to.have.property('lastRotationError');
      expect(recovered.lastRotationTime).to.equal(kubeTime(harness.clock.now()));
    });

    it('lets mounted_content_age_seconds grow while checks fail, and resets it with the next good check', async () => {
      expect(harness.metrics.contentAge('fake')).to.equal(0);
      await harness.advance(interval());
      await harness.advance(harness.rotation.backoffBaseMs);
      expect(harness.metrics.contentAge('fake')).to.equal((interval() + harness.rotation.backoffBaseMs) / 1000);

      harness.fake.fail(undefined);
      await harness.advance(2 * harness.rotation.backoffBaseMs);

      expect(harness.metrics.contentAge('fake')).to.equal(0);
      expect(harness.metrics.contentAge('other-provider')).to.equal(undefined);
    });

    it('checks again sooner than the interval (backoff), doubling the delay after each failure', async () => {
      const base = harness.rotation.backoffBaseMs;
      await harness.advance(interval());

      await harness.advance(base - 1);
      expect(harness.provider.calls, 'before the first backoff').to.equal(2);
      await harness.advance(1);
      expect(harness.provider.calls, 'after the first backoff').to.equal(3);
      await harness.advance(2 * base - 1);
      expect(harness.provider.calls, 'before the doubled backoff').to.equal(3);
      await harness.advance(1);
      expect(harness.provider.calls, 'after the doubled backoff').to.equal(4);
    });

    it('rotates on the next check once the provider recovers, then returns to the full interval', async () => {
      await harness.advance(interval());
      harness.fake.fail(undefined);

      await harness.advance(harness.rotation.backoffBaseMs);

      expect(await harness.mountedText(pod.target)).to.include({ 'db-password': 'db-password-v2' });
      expect(harness.events('MountRotationComplete')).to.have.length(1);
      await harness.advance(interval() - 1);
      expect(harness.provider.calls).to.equal(3);
    });
  });

  describe('when the provider cannot be reached', () => {
    it('keeps the files and reports ProviderUnavailable', async () => {
      const before = await harness.snapshot(pod.target);
      harness.fake.fail({ kind: 'unavailable' });

      await harness.advance(interval());

      expect(await harness.snapshot(pod.target)).to.deep.equal(before);
      expect(harness.metrics.count('rotation_reconcile_error_total', { error_type: 'ProviderUnavailable' })).to.equal(1);
    });
  });
});

describe('Rotation switched off', () => {
  it('never checks a mounted volume again', async () => {
    const harness = new DriverHarness({ rotation: { enabled: false } });
    harness.addClass();
    const pod = harness.addPod();
    await harness.publish(pod);
    harness.store.rotate('db-password');

    await harness.advance(harness.rotation.intervalMs * 10);
    await harness.publish(pod);

    expect(harness.provider.calls).to.equal(1);
    expect(harness.clock.pendingTimers).to.equal(0);
    expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
    await harness.stop();
  });
});

describe('Waking the process for due checks', () => {
  let harness: DriverHarness;
  // The harness's shortest class interval is 2 s: its wake window is 400 ms.
  const WINDOW_MS = 400;
  const interval = (): number => harness.rotation.intervalMs;
  const callsFor = (pod: TestPod): number => harness.fake.requests.filter(({ request }) => request.targetPath === pod.target).length;

  /** Moves the clock so that only the loop's own timer starts checks, and waits for those to end. */
  async function tick(ms: number): Promise<void> {
    harness.clock.advance(ms);
    for (let turn = 0; turn < 20 || harness.reconciler.runningChecks > 0; turn++) await new Promise((resolve) => setImmediate(resolve));
    await harness.cluster.whenIdle();
  }

  async function podsPublishedApart(gapMs: number): Promise<[TestPod, TestPod]> {
    const first = harness.addPod({ name: 'first', uid: 'first-uid' });
    const second = harness.addPod({ name: 'second', uid: 'second-uid' });
    await harness.publish(first);
    await tick(gapMs);
    await harness.publish(second);
    return [first, second];
  }

  beforeEach(() => {
    harness = new DriverHarness();
    harness.addClass({ parameters: { objects: objectsParameter('db-password') } });
  });
  afterEach(() => harness.stop());

  it('runs a check that falls due within the window after a wake-up at the end of that window, not on a wake-up of its own', async () => {
    const [first, second] = await podsPublishedApart(100);

    await tick(interval() - 100);
    await tick(100);
    expect([callsFor(first), callsFor(second)], 'at the second due time').to.deep.equal([2, 1]);

    await tick(WINDOW_MS - 100);
    expect([callsFor(first), callsFor(second)], 'at the end of the window').to.deep.equal([2, 2]);
  });

  it('runs a check due a whole window after the last wake-up at its due time', async () => {
    const [first, second] = await podsPublishedApart(WINDOW_MS);

    await tick(interval() - WINDOW_MS);
    await tick(WINDOW_MS);

    expect([callsFor(first), callsFor(second)]).to.deep.equal([2, 2]);
  });

  it('starts an on-demand request at once, even right after a wake-up', async () => {
    const [first, second] = await podsPublishedApart(interval() / 2);
    await tick(interval() / 2);
    expect(callsFor(first), 'the wake-up').to.equal(2);
    harness.store.rotate('db-password');

    const object = harness.cluster.get('Pod', second.namespace, second.name)!;
    object.metadata.annotations = { [RotationAnnotation.rotateRequestedAt]: 'now' };
    harness.cluster.update(object);
    await tick(0);

    expect(callsFor(second)).to.equal(2);
    expect(await harness.mountedText(second.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
  });
});
