import { expect } from 'chai';
import type { PodResource, PodStatusResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { NODE_NAME_LABEL } from '../../src/domain/pod-status.js';
import type { PodStatusStore } from '../../src/ports/pod-status-store.js';
import { aPodResource, aPodStatusFor, ownerOf } from '../support/cluster-builders.js';

export interface PodStatusStoreFixture {
  readonly store: PodStatusStore;
  readonly namespace: string;
  /** Creates a pod (the owner of pod status records) and returns it as stored, with its uid. */
  putPod(object: PodResource): Promise<PodResource>;
  /** The raw SecretProviderClassPodStatus object, as the API returns it. */
  readPodStatusObject(namespace: string, name: string): Promise<PodStatusResource | undefined>;
  close(): Promise<void>;
}

/** The PodStatusStore port contract. */
export function podStatusStoreContract(makeFixture: () => Promise<PodStatusStoreFixture>): void {
  describe('PodStatusStore contract', () => {
    let fixture: PodStatusStoreFixture;
    let pod: PodResource;

    beforeEach(async () => {
      fixture = await makeFixture();
      pod = await fixture.putPod(aPodResource({ namespace: fixture.namespace, name: 'app-0' }));
    });
    afterEach(() => fixture.close());

    it('resolves undefined for a record that does not exist', async () => {
      expect(await fixture.store.get(fixture.namespace, 'app-0-nothing-here')).to.equal(undefined);
    });

    it('creates the object named <pod>-<namespace>-<class>, labelled with the node, owned by the pod, objects sorted by id', async () => {
      const status = aPodStatusFor(pod, {
        nodeName: 'node-a',
        objects: [
          { id: 'secret/zeta', version: '3' },
          { id: 'secret/alpha', version: '1' },
        ],
      });
      await fixture.store.save(status, ownerOf(pod));
      const object = await fixture.readPodStatusObject(fixture.namespace, `app-0-${fixture.namespace}-app-secrets`);
      expect(object, 'stored object').not.to.equal(undefined);
      expect(object!.metadata.labels).to.include({ [NODE_NAME_LABEL]: 'node-a' });
      expect(object!.metadata.ownerReferences).to.have.length(1);
      expect(object!.metadata.ownerReferences![0]).to.include({ apiVersion: 'v1', kind: 'Pod', name: 'app-0', uid: pod.metadata.uid });
      expect(object!.status).to.deep.equal({
        podName: 'app-0',
        secretProviderClassName: 'app-secrets',
        mounted: true,
        targetPath: status.targetPath,
        objects: [
          { id: 'secret/alpha', version: '1' },
          { id: 'secret/zeta', version: '3' },
        ],
      });
    });

    it('returns the stored record from save and reads the same back with get', async () => {
      const saved = await fixture.store.save(aPodStatusFor(pod), ownerOf(pod));
      expect(saved.uid).to.be.a('string').and.not.equal('');
      expect(await fixture.store.get(saved.namespace, saved.name)).to.deep.equal(saved);
      expect(saved).to.deep.include({ podName: 'app-0', podUid: pod.metadata.uid, nodeName: 'node-1', mounted: true });
    });

    it('writes nothing when saving a record equal to the stored one', async () => {
      const status = aPodStatusFor(pod);
      await fixture.store.save(status, ownerOf(pod));
      const before = await fixture.readPodStatusObject(status.namespace, status.name);
      await fixture.store.save({ ...status, objects: [...status.objects].reverse() }, ownerOf(pod));
      const after = await fixture.readPodStatusObject(status.namespace, status.name);
      expect(after!.metadata.resourceVersion).to.equal(before!.metadata.resourceVersion);
    });

    it('updates the stored record when the versions change, keeping its identity', async () => {
      const status = aPodStatusFor(pod, { objects: [{ id: 'secret/db-password', version: 'v1' }] });
      const first = await fixture.store.save(status, ownerOf(pod));
      const before = await fixture.readPodStatusObject(status.namespace, status.name);
      const second = await fixture.store.save({ ...status, objects: [{ id: 'secret/db-password', version: 'v2' }] }, ownerOf(pod));
      const after = await fixture.readPodStatusObject(status.namespace, status.name);
      expect(second.objects).to.deep.equal([{ id: 'secret/db-password', version: 'v2' }]);
      expect(after!.status!.objects).to.deep.equal([{ id: 'secret/db-password', version: 'v2' }]);
      expect(after!.metadata.resourceVersion).not.to.equal(before!.metadata.resourceVersion);
      expect(second.uid).to.equal(first.uid);
    });

    it('lists only the records of the given node', async () => {
      const other = await fixture.putPod(aPodResource({ namespace: fixture.namespace, name: 'app-1', nodeName: 'node-b' }));
      await fixture.store.save(aPodStatusFor(pod, { nodeName: 'node-a' }), ownerOf(pod));
      await fixture.store.save(aPodStatusFor(other, { nodeName: 'node-b' }), ownerOf(other));
      const onA = await fixture.store.listByNode('node-a');
      expect(onA.filter((s) => s.namespace === fixture.namespace).map((s) => s.podName)).to.deep.equal(['app-0']);
      expect(onA.every((s) => s.nodeName === 'node-a')).to.equal(true);
      expect(await fixture.store.listByNode('node-without-pods')).to.deep.equal([]);
    });
  });
}
