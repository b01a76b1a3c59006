import { expect } from 'chai';
import type { SecretResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { secretRotationMarker, syncedVersionsDigest } from '../../src/domain/restart-on-rotation.js';
import { MANAGED_LABEL } from '../../src/domain/secret-sync-plan.js';
import type { SyncedSecrets } from '../../src/ports/synced-secrets.js';
import { aSecretResource } from '../support/cluster-builders.js';
import { eventually } from './eventually.js';

export interface SyncedSecretsFixture {
  readonly secrets: SyncedSecrets;
  readonly namespace: string;
  /** Creates or replaces a Secret; resolves once `get` reflects it (for a labelled one). */
  putSecret(object: SecretResource): Promise<void>;
  close(): Promise<void>;
}

/** The SyncedSecrets port contract. */
export function syncedSecretsContract(makeFixture: () => Promise<SyncedSecretsFixture>): void {
  describe('SyncedSecrets contract', () => {
    let fixture: SyncedSecretsFixture;
    let namespace: string;

    beforeEach(async () => {
      fixture = await makeFixture();
      namespace = fixture.namespace;
    });
    afterEach(() => fixture.close());

    const managed = { [MANAGED_LABEL]: 'true' };
    const NOW = Date.parse('2026-12-01T10:00:00Z');

    it('reads the rotation marker of a synced Secret, never its data', async () => {
      const secret = aSecretResource({ namespace, name: 'db', labels: managed, data: { password: 'do-not-keep' } });
      secret.metadata.annotations = secretRotationMarker([{ id: 'db-password', version: 'v2' }], NOW);
      await fixture.putSecret(secret);
      const read = await fixture.secrets.get(namespace, 'db');
      expect(read).to.deep.equal({ namespace, name: 'db', rotation: { versions: syncedVersionsDigest([{ id: 'db-password', version: 'v2' }]), at: NOW } });
      expect(JSON.stringify(read)).not.to.include(Buffer.from('do-not-keep').toString('base64'));
    });

    it('reads a synced Secret no rotation changed yet without a marker, and knows nothing of unlabelled Secrets', async () => {
      await fixture.putSecret(aSecretResource({ namespace, name: 'fresh', labels: managed }));
      await fixture.putSecret(aSecretResource({ namespace, name: 'users-own' }));
      expect(await fixture.secrets.get(namespace, 'fresh')).to.deep.equal({ namespace, name: 'fresh' });
      expect(await fixture.secrets.get(namespace, 'users-own')).to.equal(undefined);
      expect(await fixture.secrets.get(namespace, 'missing')).to.equal(undefined);
    });

    it('tells listeners of changes to synced Secrets only', async () => {
      const heard: string[] = [];
      const stop = fixture.secrets.onChange((secret) => {
        if (secret.namespace === namespace) heard.push(secret.name);
      });
      try {
        await fixture.putSecret(aSecretResource({ namespace, name: 'users-own' }));
        await fixture.putSecret(aSecretResource({ namespace, name: 'db', labels: managed }));
        await eventually(() => expect(heard).to.deep.equal(['db']), 10_000, 20);
      } finally {
        stop();
      }
    });
  });
}
