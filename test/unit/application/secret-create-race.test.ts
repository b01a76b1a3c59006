import { expect } from 'chai';
import { KubeApiError } from '../../../src/adapters/memory-cluster/cluster-errors.js';
import { MANAGED_LABEL } from '../../../src/domain/secret-sync-plan.js';
import { aSecretResource } from '../../support/cluster-builders.js';
import { aSyncedPassword, DriverHarness } from '../../support/driver-harness.js';

/**
 * Two pods of one class published at the same moment both find no Secret and both create it; the
 * slower create fails with AlreadyExists (seen on a real API server in test/e2e/kubelet-kubernetes).
 * The sync plans again against the Secret that is now there instead of reporting a failure.
 */
describe('A synced Secret created by another writer between the read and the create', () => {
  let harness: DriverHarness;

  beforeEach(() => {
    harness = new DriverHarness();
    harness.addClass({ secretObjects: [aSyncedPassword()] });
  });
  afterEach(async () => {
    await harness.stop();
  });

  /** The next create of the Secret loses the race against `winner`, created just before it. */
  const loseTheCreateRace = (winner: Parameters<typeof aSecretResource>[0]): void => {
    let raced = false;
    harness.cluster.interceptWrites(({ verb, kind }) => {
      if (raced || verb !== 'create' || kind !== 'Secret') return undefined;
      raced = true;
      harness.cluster.create(aSecretResource(winner));
      return new KubeApiError('AlreadyExists', 'secrets "app-synced" already exists');
    });
  };

  it('adopts a managed Secret: adds this pod\'s owner, no FailedToCreateSecret', async () => {
    const other = { apiVersion: 'secrets-store.csi.x-k8s.io/v1', kind: 'SecretProviderClassPodStatus', name: 'web-1-default-app-secrets', uid: 'other-uid' };
    loseTheCreateRace({ name: 'app-synced', data: { password: 'db-password-v1' }, labels: { [MANAGED_LABEL]: 'true' }, ownerReferences: [other] });
    const pod = harness.addPod({ name: 'web-0' });

    await harness.publish(pod);

    expect(harness.events('FailedToCreateSecret')).to.deep.equal([]);
    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'db-password-v1' });
    expect(harness.secret('app-synced')?.metadata.ownerReferences?.map((owner) => owner.uid)).to.deep.equal(['other-uid', harness.podStatus(pod)?.metadata.uid]);
  });

  it('still refuses a Secret the driver does not manage that appeared in the meantime', async () => {
    loseTheCreateRace({ name: 'app-synced', data: { password: 'hand-made' } });
    const pod = harness.addPod({ name: 'web-0' });

    await harness.publish(pod);

    expect(harness.secretData('app-synced')).to.deep.equal({ password: 'hand-made' });
    expect(harness.events('FailedToCreateSecret')[0]?.message).to.contain('not managed');
  });
});
