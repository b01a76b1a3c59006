import { expect } from 'chai';
import type { PodResource, SecretResource } from '../../src/adapters/kube-objects/object-shapes.js';
import type { OwnerReference } from '../../src/domain/owner-reference.js';
import type { SecretSink } from '../../src/ports/secret-sink.js';
import { aNewSecret, aPodResource, ownerOf } from '../support/cluster-builders.js';

export interface SecretSinkFixture {
  readonly sink: SecretSink;
  readonly namespace: string;
  /** Creates a pod to serve as a Secret owner (a cluster with a garbage collector needs real owners). */
  putPod(object: PodResource): Promise<PodResource>;
  /** The raw Secret object, as the API returns it. */
  readSecret(namespace: string, name: string): Promise<SecretResource | undefined>;
  close(): Promise<void>;
}

const MANAGED = { 'secrets-store.csi.k8s.io/managed': 'true' };
const encode = (text: string): Uint8Array => new TextEncoder().encode(text);
/** Bytes that are not UTF-8 (a lone continuation byte, 0xff) and NUL: they must survive untouched. */
const BINARY = Uint8Array.from([0x00, 0xff, 0x80, 0xc3, 0x28, 0x0a, 0xfe]);

/** The SecretSink port contract. */
export function secretSinkContract(makeFixture: () => Promise<SecretSinkFixture>): void {
  describe('SecretSink contract', () => {
    let fixture: SecretSinkFixture;
    let namespace: string;
    let owner: OwnerReference;

    beforeEach(async () => {
      fixture = await makeFixture();
      namespace = fixture.namespace;
      owner = ownerOf(await fixture.putPod(aPodResource({ namespace, name: 'owner-pod' })));
    });
    afterEach(() => fixture.close());

    it('resolves undefined for a Secret that does not exist', async () => {
      expect(await fixture.sink.get(namespace, 'no-such-secret')).to.equal(undefined);
    });

    it('reads back a created Secret with its type, labels, annotations, owners and exact bytes', async () => {
      const data = { text: encode('s3cret'), binary: BINARY, empty: new Uint8Array(0) };
      await fixture.sink.create(
        aNewSecret({ namespace, name: 'round-trip', labels: { ...MANAGED, team: 'a' }, annotations: { note: 'x' }, data, ownerReferences: [owner] }),
      );
      const current = await fixture.sink.get(namespace, 'round-trip');
      expect(current).to.deep.include({ namespace, name: 'round-trip', type: 'Opaque' });
      expect(current!.labels).to.include({ ...MANAGED, team: 'a' });
      expect(current!.annotations).to.include({ note: 'x' });
      expect(current!.data).to.deep.equal(data);
      expect(current!.ownerReferences.map((o) => o.uid)).to.deep.equal([owner.uid]);
    });

    it('stores data as base64 text in the Secret object', async () => {
      await fixture.sink.create(aNewSecret({ namespace, name: 'encoded', data: { binary: BINARY } }));
      const object = await fixture.readSecret(namespace, 'encoded');
      expect(object!.data).to.deep.equal({ binary: Buffer.from(BINARY).toString('base64') });
    });

    it('rejects creating a Secret that already exists and keeps the first one', async () => {
      await fixture.sink.create(aNewSecret({ namespace, name: 'twice', data: { v: encode('first') } }));
      let rejected = false;
      await fixture.sink.create(aNewSecret({ namespace, name: 'twice', data: { v: encode('second') } })).catch(() => (rejected = true));
      expect(rejected, 'second create rejected').to.equal(true);
      expect((await fixture.sink.get(namespace, 'twice'))!.data).to.deep.equal({ v: encode('first') });
    });

    it('changes only the fields a patch names', async () => {
      const original = aNewSecret({
        namespace,
        name: 'partial',
        labels: { ...MANAGED, team: 'a' },
        annotations: { note: 'x' },
        data: { a: encode('1'), b: encode('2') },
        ownerReferences: [owner],
      });
      await fixture.sink.create(original);
      await fixture.sink.patch(namespace, 'partial', { data: { a: encode('changed') } });
      const current = await fixture.sink.get(namespace, 'partial');
      expect(current!.data).to.deep.equal({ a: encode('changed'), b: encode('2') });
      expect(current!.labels).to.include({ ...MANAGED, team: 'a' });
      expect(current!.annotations).to.include({ note: 'x' });
      expect(current!.type).to.equal('Opaque');
      expect(current!.ownerReferences.map((o) => o.uid)).to.deep.equal([owner.uid]);
    });

    it('removes a data key patched to null', async () => {
      await fixture.sink.create(aNewSecret({ namespace, name: 'shrink', data: { keep: encode('k'), drop: encode('d') } }));
      await fixture.sink.patch(namespace, 'shrink', { data: { drop: null } });
      expect((await fixture.sink.get(namespace, 'shrink'))!.data).to.deep.equal({ keep: encode('k') });
    });

    it('merges patched labels and annotations into the existing ones', async () => {
      await fixture.sink.create(aNewSecret({ namespace, name: 'labelled', labels: { ...MANAGED, team: 'a' }, annotations: { one: '1' } }));
      await fixture.sink.patch(namespace, 'labelled', { labels: { env: 'prod' }, annotations: { two: '2' } });
      const current = await fixture.sink.get(namespace, 'labelled');
      expect(current!.labels).to.include({ ...MANAGED, team: 'a', env: 'prod' });
      expect(current!.annotations).to.include({ one: '1', two: '2' });
    });

    it('replaces the owner references with the patched list', async () => {
      const second = ownerOf(await fixture.putPod(aPodResource({ namespace, name: 'second-owner' })));
      await fixture.sink.create(aNewSecret({ namespace, name: 'owned', ownerReferences: [owner] }));
      await fixture.sink.patch(namespace, 'owned', { ownerReferences: [owner, second] });
      const current = await fixture.sink.get(namespace, 'owned');
      expect(current!.ownerReferences.map((o) => o.uid)).to.deep.equal([owner.uid, second.uid]);
    });

    it('rejects a patch of a Secret that does not exist', async () => {
      let rejected = false;
      await fixture.sink.patch(namespace, 'missing', { labels: { a: 'b' } }).catch(() => (rejected = true));
      expect(rejected).to.equal(true);
      expect(await fixture.sink.get(namespace, 'missing')).to.equal(undefined);
    });
  });
}
