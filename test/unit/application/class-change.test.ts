import { expect } from 'chai';
import { RotationAnnotation } from '../../../src/domain/rotation-policy.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { aSyncedPassword, CLASS_NAME, DriverHarness, objectsParameter, type TestPod } from '../../support/driver-harness.js';

describe('Following a SecretProviderClass that changes after the mount', () => {
  let harness: DriverHarness;
  let pod: TestPod;

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

  const setObjects = (...objects: string[]): Promise<void> =>
    harness.editClass(CLASS_NAME, (spc) => {
      spc.spec!.parameters = { objects: objectsParameter(...objects) };
    });

  it('adds and removes mounted objects at once, without waiting for the interval', async () => {
    await setObjects('db-password', 'tls-bundle');

    await harness.advance(0);

    expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v1', 'tls-bundle': 'tls-bundle-v1' });
    expect(harness.entries(pod.target)).to.not.include('api-key');
    expect(harness.podStatus(pod)?.status?.objects).to.deep.equal([
      { id: 'db-password', version: 'v1' },
      { id: 'tls-bundle', version: 'v1' },
    ]);
    const [rotated] = harness.events('MountRotationComplete');
    expect(rotated?.message).to.contain('+tls-bundle').and.to.contain('-api-key');
  });

  it('updates the synced Secret when a secretObject key changes', async () => {
    await harness.editClass(CLASS_NAME, (spc) => {
      spc.spec!.secretObjects = [{ ...aSyncedPassword(), data: [{ objectName: 'db-password', key: 'db-pass' }] }];
    });

    await harness.advance(0);

    expect(harness.secretData('app-synced')).to.deep.equal({ 'db-pass': 'db-password-v1' });
    expect(harness.events('SecretRotationComplete')).to.have.length(1);
    expect(harness.events('MountRotationComplete')).to.deep.equal([]);
  });

  it('creates the Secret of a secretObject added to the class', async () => {
    await harness.editClass(CLASS_NAME, (spc) => {
      spc.spec!.secretObjects = [aSyncedPassword(), { secretName: 'api-synced', type: 'Opaque', data: [{ objectName: 'api-key', key: 'key' }] }];
    });

    await harness.advance(0);

    expect(harness.secretData('api-synced')).to.deep.equal({ key: 'api-key-v1' });
    expect(harness.secret('api-synced')?.metadata.ownerReferences?.[0]?.name).to.equal(harness.podStatus(pod)?.metadata.name);
    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1' });
  });

  it('leaves the mount alone when an unrelated class changes', async () => {
    harness.addClass({ name: 'other-secrets' });
    await harness.editClass('other-secrets', (spc) => {
      spc.spec!.parameters = { objects: 'tls-bundle' };
    });

    await harness.advance(0);

    expect(harness.provider.calls).to.equal(1);
  });

  it('does not lose a class change that arrives while a check of the binding is in flight', async () => {
    const held = harness.provider.holdNext();
    harness.clock.advance(harness.rotation.intervalMs);
    await held.entered;
    await setObjects('db-password', 'tls-bundle');
    held.release();
    await harness.advance(0);

    await harness.advance(0);

    expect(await harness.mountedText(pod.target)).to.have.property('tls-bundle', 'tls-bundle-v1');
  });
});

describe('A class rotation-poll-interval annotation', () => {
  let harness: DriverHarness;

  beforeEach(() => {
    harness = new DriverHarness({ rotation: { intervalMs: 60_000, minClassIntervalMs: 5_000 } });
  });
  afterEach(() => harness.stop());

  const publishWithInterval = async (annotation: string): Promise<void> => {
    harness.addClass({ annotations: { [RotationAnnotation.pollInterval]: annotation } });
    await harness.publish(harness.addPod());
  };

  it('shortens the interval of its bindings', async () => {
    await publishWithInterval('20s');

    await harness.advance(19_999);
    expect(harness.provider.calls).to.equal(1);
    await harness.advance(1);
    expect(harness.provider.calls).to.equal(2);
    await harness.advance(20_000);
    expect(harness.provider.calls).to.equal(3);
  });

  it('is bounded below by the minimum class interval', async () => {
    await publishWithInterval('1s');

    await harness.advance(4_999);
    expect(harness.provider.calls).to.equal(1);
    await harness.advance(1);
    expect(harness.provider.calls).to.equal(2);
  });

  it('is ignored with a warning when it is not a duration, logged once for the class and not on every check', async () => {
    await publishWithInterval('soon');

    await harness.advance(59_999);
    expect(harness.provider.calls).to.equal(1);
    await harness.advance(1);
    expect(harness.provider.calls).to.equal(2);
    await harness.advance(60_000);
    expect(harness.provider.calls).to.equal(3);
    expect(harness.logger.lines.filter((line) => line.startsWith('warn ignoring class rotation interval'))).to.have.length(1);
  });

  it('takes effect when added to the class of a mounted binding', async () => {
    harness.addClass();
    await harness.publish(harness.addPod());
    await harness.editClass(CLASS_NAME, (spc) => {
      spc.metadata.annotations = { [RotationAnnotation.pollInterval]: '10s' };
    });
    await harness.advance(0);
    expect(harness.provider.calls, 'the class change is checked at once').to.equal(2);

    await harness.advance(10_000);

    expect(harness.provider.calls).to.equal(3);
  });
});
