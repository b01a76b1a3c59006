import { expect } from 'chai';
import type { OwnerReferenceShape } from '../../../src/adapters/kube-objects/object-shapes.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { aSyncedPassword, DriverHarness, type TestPod } from '../../support/driver-harness.js';

const ownerNames = (owners: readonly OwnerReferenceShape[] | undefined): string[] => (owners ?? []).map((owner) => `${owner.kind}/${owner.name}`).sort();

describe('Two pods sharing a class and its synced Secret', () => {
  let harness: DriverHarness;

  beforeEach(() => {
    harness = new DriverHarness();
    harness.addClass({ secretObjects: [aSyncedPassword()] });
  });
  afterEach(async () => {
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  const publishBoth = async (pods: readonly TestPod[]): Promise<void> => {
    for (const pod of pods) await harness.publish(pod);
  };

  it('rotates both mounts and the Secret, which ends owned by both pod status objects', async () => {
    const pods = [harness.addPod({ name: 'web-0' }), harness.addPod({ name: 'web-1' })];
    await publishBoth(pods);
    harness.store.rotate('db-password');

    await harness.advance(harness.rotation.intervalMs);

    for (const pod of pods) {
      expect(await harness.mountedText(pod.target), pod.name).to.deep.equal({ 'db-password': 'db-password-v2' });
      expect(harness.podStatus(pod)?.status?.objects, pod.name).to.deep.equal([{ id: 'db-password', version: 'v2' }]);
    }
    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v2' });
    expect(ownerNames(harness.secret('app-synced')?.metadata.ownerReferences)).to.deep.equal([
      'SecretProviderClassPodStatus/web-0-default-app-secrets',
      'SecretProviderClassPodStatus/web-1-default-app-secrets',
    ]);
    expect(harness.events('MountRotationComplete').map((event) => event.involvedObject.name).sort()).to.deep.equal(['web-0', 'web-1']);
  });

  it("keeps both pods' ReplicaSets as owners of the Secret", async () => {
    const owner = (name: string): OwnerReferenceShape => ({ apiVersion: 'apps/v1', kind: 'ReplicaSet', name, uid: `${name}-uid` });
    const pods = [harness.addPod({ name: 'web-0', ownerReferences: [owner('web-a')] }), harness.addPod({ name: 'api-0', ownerReferences: [owner('api-b')] })];
    await publishBoth(pods);
    harness.store.rotate('db-password');

    await harness.advance(harness.rotation.intervalMs);

    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v2' });
    expect(ownerNames(harness.secret('app-synced')?.metadata.ownerReferences)).to.deep.equal(['ReplicaSet/api-b', 'ReplicaSet/web-a']);
  });

  it('keeps the Secret for the remaining pod when the other unpublishes', async () => {
    const [first, second] = [harness.addPod({ name: 'web-0' }), harness.addPod({ name: 'web-1' })];
    await publishBoth([first, second]);

    await harness.unpublish(first.target);
    harness.store.rotate('db-password');
    await harness.advance(harness.rotation.intervalMs);

    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v2' });
    expect(await harness.mountedText(second.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
  });
});
