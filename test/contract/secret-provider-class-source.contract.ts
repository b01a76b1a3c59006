import { expect } from 'chai';
import type { SecretProviderClassResource } from '../../src/adapters/kube-objects/object-shapes.js';
import type { SecretProviderClass } from '../../src/domain/secret-provider-class.js';
import type { ClassChange, SecretProviderClassSource } from '../../src/ports/secret-provider-class-source.js';
import { aClassResource } from '../support/cluster-builders.js';
import { attemptChange } from './attempt-change.js';
import { eventually } from './eventually.js';

export interface ClassSourceFixture {
  readonly source: SecretProviderClassSource;
  /** A namespace the suite may use freely. */
  readonly namespace: string;
  /** Creates the class, or replaces it when it exists. */
  putClass(object: SecretProviderClassResource): Promise<void>;
  deleteClass(namespace: string, name: string): Promise<void>;
  close(): Promise<void>;
}

/** The SecretProviderClassSource port contract. */
export function classSourceContract(makeFixture: () => Promise<ClassSourceFixture>): void {
  describe('SecretProviderClassSource contract', () => {
    let fixture: ClassSourceFixture;
    let namespace: string;

    beforeEach(async () => {
      fixture = await makeFixture();
      namespace = fixture.namespace;
    });
    afterEach(() => fixture.close());

    interface Recorded {
      /** Listener calls for the class, counted as they happen. */
      calls: number;
      /** What `get` returned when asked from inside each call. */
      readonly seen: (SecretProviderClass | undefined)[];
      unsubscribe: () => void;
    }

    function recordChanges(name: string): Recorded {
      const recorded: Recorded = { calls: 0, seen: [], unsubscribe: () => undefined };
      recorded.unsubscribe = fixture.source.onChange((change: ClassChange) => {
        if (change.namespace !== namespace || change.name !== name) return;
        recorded.calls += 1;
        void fixture.source.get(change.namespace, change.name).then((value) => recorded.seen.push(value));
      });
      return recorded;
    }

    it('resolves undefined for a class that does not exist', async () => {
      expect(await fixture.source.get(namespace, 'no-such-class')).to.equal(undefined);
    });

    it('maps provider, parameters, secretObjects and annotations of a stored class', async () => {
      const secretObjects = [
        {
          secretName: 'db-creds',
          type: 'Opaque',
          labels: { team: 'db' },
          annotations: { note: 'synced' },
          data: [{ objectName: 'db-password', key: 'password' }],
        },
      ];
      await fixture.putClass(
        aClassResource({ namespace, name: 'full', provider: 'vault', parameters: { roleName: 'app', objects: 'x' }, secretObjects, annotations: { a: 'b' } }),
      );
      const spc = await fixture.source.get(namespace, 'full');
      expect(spc).to.deep.include({ namespace, name: 'full', provider: 'vault', parameters: { roleName: 'app', objects: 'x' }, secretObjects });
      expect(spc!.annotations).to.include({ a: 'b' });
      expect(spc!.uid).to.be.a('string').and.not.equal('');
      expect(spc!.generation).to.be.at.least(1);
    });

    it('hands out a copy or a frozen object: changing what get returned changes nothing the next get returns', async () => {
      const secretObjects = [{ secretName: 'db-creds', type: 'Opaque', labels: { team: 'db' }, data: [{ objectName: 'db-password', key: 'password' }] }];
      await fixture.putClass(aClassResource({ namespace, name: 'copied', parameters: { roleName: 'app' }, secretObjects, annotations: { a: 'b' } }));
      const first = (await fixture.source.get(namespace, 'copied')) as unknown as Record<string, any>;
      attemptChange(() => (first['parameters']['roleName'] = 'changed'));
      attemptChange(() => (first['annotations']['a'] = 'changed'));
      attemptChange(() => (first['secretObjects'][0]['labels']['team'] = 'changed'));
      attemptChange(() => (first['secretObjects'][0]['data'][0]['key'] = 'changed'));
      const second = (await fixture.source.get(namespace, 'copied'))!;
      expect(second.parameters['roleName']).to.equal('app');
      expect(second.annotations['a']).to.equal('b');
      expect(second.secretObjects[0]!.labels['team']).to.equal('db');
      expect(second.secretObjects[0]!.data[0]!.key).to.equal('password');
    });

    it('defaults absent parameters and secretObjects to empty values', async () => {
      const bare = aClassResource({ namespace, name: 'bare' });
      bare.spec = { provider: 'fake' };
      await fixture.putClass(bare);
      const spc = await fixture.source.get(namespace, 'bare');
      expect(spc).to.deep.include({ parameters: {}, secretObjects: [] });
      expect(spc!.annotations).to.be.an('object');
    });

    it('increases the generation when the spec changes', async () => {
      await fixture.putClass(aClassResource({ namespace, name: 'gen', parameters: { objects: 'a' } }));
      const before = await fixture.source.get(namespace, 'gen');
      await fixture.putClass(aClassResource({ namespace, name: 'gen', parameters: { objects: 'b' } }));
      const after = await fixture.source.get(namespace, 'gen');
      expect(after!.generation).to.be.greaterThan(before!.generation);
      expect(after!.uid).to.equal(before!.uid);
    });

    it('notifies after an update, when get already returns the new state', async () => {
      await fixture.putClass(aClassResource({ namespace, name: 'watched', parameters: { objects: 'old' } }));
      const changes = recordChanges('watched');
      await fixture.putClass(aClassResource({ namespace, name: 'watched', parameters: { objects: 'new' } }));
      await eventually(() => expect(changes.seen.map((spc) => spc?.parameters['objects'])).to.include('new'));
      expect(changes.seen.map((spc) => spc?.parameters['objects'])).not.to.include('old');
      changes.unsubscribe();
    });

    it('notifies after a delete, when get already resolves undefined', async () => {
      await fixture.putClass(aClassResource({ namespace, name: 'doomed' }));
      const changes = recordChanges('doomed');
      await fixture.deleteClass(namespace, 'doomed');
      await eventually(() => expect(changes.seen).to.have.length.greaterThan(0));
      expect(changes.seen.at(-1)).to.equal(undefined);
      changes.unsubscribe();
    });

    it('stops notifying a listener once it unsubscribed', async () => {
      await fixture.putClass(aClassResource({ namespace, name: 'quiet', parameters: { objects: 'a' } }));
      const stopped = recordChanges('quiet');
      stopped.unsubscribe();
      const still = recordChanges('quiet');
      await fixture.putClass(aClassResource({ namespace, name: 'quiet', parameters: { objects: 'b' } }));
      // Once the listener still subscribed heard of the change, the other one would have too.
      await eventually(() => expect(still.seen).to.have.length.greaterThan(0));
      expect(stopped.calls).to.equal(0);
      still.unsubscribe();
    });
  });
}
