import { expect } from 'chai';
import type { PodResource } from '../../src/adapters/kube-objects/object-shapes.js';
import type { PodSource } from '../../src/ports/pod-source.js';
import { aPodResource, ownerOf } from '../support/cluster-builders.js';
import { attemptChange } from './attempt-change.js';
import { eventually } from './eventually.js';

export interface PodSourceFixture {
  readonly source: PodSource;
  readonly namespace: string;
  /** Creates (or replaces) a pod including its status, and returns it as stored. */
  putPod(object: PodResource): Promise<PodResource>;
  /** Starts a graceful deletion: the pod stays readable with a deletionTimestamp. */
  terminatePod(namespace: string, name: string): Promise<void>;
  /** Removes the pod for good. */
  deletePod(namespace: string, name: string): Promise<void>;
  close(): Promise<void>;
}

/** The PodSource port contract. */
export function podSourceContract(makeFixture: () => Promise<PodSourceFixture>): void {
  describe('PodSource contract', () => {
    let fixture: PodSourceFixture;
    let namespace: string;

    beforeEach(async () => {
      fixture = await makeFixture();
      namespace = fixture.namespace;
    });
    afterEach(() => fixture.close());

    it('resolves undefined for a pod that does not exist', async () => {
      expect(await fixture.source.get(namespace, 'no-such-pod')).to.equal(undefined);
    });

    it('maps the identity, phase and annotations of a pod', async () => {
      const stored = await fixture.putPod(aPodResource({ namespace, name: 'web-0', phase: 'Running', annotations: { team: 'web' } }));
      const pod = await fixture.source.get(namespace, 'web-0');
      expect(pod).to.deep.include({ namespace, name: 'web-0', uid: stored.metadata.uid, phase: 'Running', terminating: false });
      expect(pod!.annotations).to.include({ team: 'web' });
      expect(pod!.ownerReferences).to.deep.equal([]);
    });

    it('hands out a copy or a frozen object: changing what get returned changes nothing the next get returns', async () => {
      // The owner is an existing object, so a garbage collector leaves the owned pod alone.
      const owner = ownerOf(await fixture.putPod(aPodResource({ namespace, name: 'web-owner' })));
      await fixture.putPod(aPodResource({ namespace, name: 'web-1', annotations: { team: 'web' }, ownerReferences: [owner] }));
      const first = (await fixture.source.get(namespace, 'web-1')) as unknown as Record<string, any>;
      attemptChange(() => (first['annotations']['team'] = 'changed'));
      attemptChange(() => (first['ownerReferences'][0]['name'] = 'changed'));
      attemptChange(() => (first['csiVolumes'][0]['volumeAttributes']['secretProviderClass'] = 'changed'));
      const second = (await fixture.source.get(namespace, 'web-1'))!;
      expect(second.annotations['team']).to.equal('web');
      expect(second.ownerReferences[0]!.name).to.equal('web-owner');
      expect(second.csiVolumes[0]!.volumeAttributes['secretProviderClass']).to.equal('app-secrets');
    });

    it('reports the phase the pod is in', async () => {
      await fixture.putPod(aPodResource({ namespace, name: 'done', phase: 'Succeeded' }));
      expect((await fixture.source.get(namespace, 'done'))!.phase).to.equal('Succeeded');
    });

    it('reports a pod being deleted as terminating', async () => {
      await fixture.putPod(aPodResource({ namespace, name: 'leaving' }));
      await fixture.terminatePod(namespace, 'leaving');
      expect((await fixture.source.get(namespace, 'leaving'))!.terminating).to.equal(true);
    });

    it('maps the owner references of a pod', async () => {
      // The owner is an existing object, so a garbage collector leaves the owned pod alone.
      const owner = ownerOf(await fixture.putPod(aPodResource({ namespace, name: 'owner' })));
      await fixture.putPod(aPodResource({ namespace, name: 'owned', ownerReferences: [{ ...owner, controller: true }] }));
      const pod = await fixture.source.get(namespace, 'owned');
      expect(pod!.ownerReferences).to.deep.equal([{ ...owner, controller: true }]);
    });

    it('resolves undefined once the pod is deleted', async () => {
      await fixture.putPod(aPodResource({ namespace, name: 'gone' }));
      await fixture.deletePod(namespace, 'gone');
      expect(await fixture.source.get(namespace, 'gone')).to.equal(undefined);
    });

    it('tells listeners about a changed pod once get returns the change, until they unsubscribe', async () => {
      const stored = await fixture.putPod(aPodResource({ namespace, name: 'watched', annotations: { round: '1' } }));
      const seen: string[] = [];
      const unsubscribe = fixture.source.onChange((pod) => {
        if (pod.namespace !== namespace || pod.name !== 'watched') return;
        void fixture.source.get(namespace, 'watched').then((now) => seen.push(`${pod.annotations['round']}/${now?.annotations['round']}`));
      });
      await fixture.putPod({ ...stored, metadata: { ...stored.metadata, annotations: { round: '2' } } });
      await eventually(() => expect(seen).to.include('2/2'));
      unsubscribe();
      const count = seen.length;
      const latest = (await fixture.putPod({ ...stored, metadata: { ...stored.metadata, resourceVersion: undefined, annotations: { round: '3' } } })) as PodResource;
      expect(latest.metadata.annotations?.['round']).to.equal('3');
      await new Promise((resolve) => setTimeout(resolve, 200));
      expect(seen).to.have.length(count);
    });
  });
}
