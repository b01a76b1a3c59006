import { expect } from 'chai';
import { isKubeApiError, KubeApiError } from '../../../../src/adapters/memory-cluster/cluster-errors.js';
import { InMemoryCluster } from '../../../../src/adapters/memory-cluster/cluster-store.js';
import type { KubeObject } from '../../../../src/adapters/kube-objects/object-shapes.js';
import {
  aClassResource,
  aPodResource,
  aPodStatusResource,
  aSecretResource,
  ownerOf,
} from '../../../support/cluster-builders.js';

function caught(action: () => unknown): unknown {
  try {
    action();
  } catch (error) {
    return error;
  }
  throw new Error('expected the call to throw');
}

describe('InMemoryCluster', () => {
  let cluster: InMemoryCluster;
  let uids: number;

  beforeEach(() => {
    uids = 0;
    cluster = new InMemoryCluster({ clock: { now: () => Date.parse('2026-03-04T05:06:07.890Z') }, newUid: () => `uid-${++uids}` });
  });

  describe('create', () => {
    it('assigns uid, creationTimestamp and resourceVersion', () => {
      const pod = cluster.create(aPodResource());
      expect(pod.metadata).to.include({ uid: 'uid-1', creationTimestamp: '2026-03-04T05:06:07Z', namespace: 'default' });
      expect(pod.metadata.resourceVersion).to.match(/^\d+$/);
    });

    it('hands out resourceVersions from one increasing counter across kinds', () => {
      const versions = [cluster.create(aPodResource()), cluster.create(aSecretResource()), cluster.create(aClassResource())].map((o) =>
        Number(o.metadata.resourceVersion),
      );
      expect(versions).to.deep.equal([...versions].sort((a, b) => a - b));
      expect(new Set(versions).size).to.equal(3);
    });

    it('fails with AlreadyExists for a name already taken in the namespace', () => {
      cluster.create(aPodResource({ name: 'p' }));
      expect(isKubeApiError(caught(() => cluster.create(aPodResource({ name: 'p' }))), 'AlreadyExists')).to.equal(true);
      expect(() => cluster.create(aPodResource({ name: 'p', namespace: 'other' }))).not.to.throw();
    });

    it('refuses an object that carries a resourceVersion', () => {
      const pod = aPodResource();
      pod.metadata.resourceVersion = '7';
      expect(isKubeApiError(caught(() => cluster.create(pod)), 'Invalid')).to.equal(true);
    });

    it('starts a SecretProviderClass at generation 1 and converts v1alpha1 to v1', () => {
      const spc = cluster.create({ ...aClassResource(), apiVersion: 'secrets-store.csi.x-k8s.io/v1alpha1' });
      expect(spc.metadata.generation).to.equal(1);
      expect(spc.apiVersion).to.equal('secrets-store.csi.x-k8s.io/v1');
    });

    it('defaults a Secret type to Opaque and a pod phase to Pending', () => {
      const secret = aSecretResource();
      delete secret.type;
      const pod = aPodResource();
      delete pod.status;
      expect(cluster.create(secret).type).to.equal('Opaque');
      expect(cluster.create(pod).status?.phase).to.equal('Pending');
    });

    it('merges Secret stringData into base64 data, as the API server does', () => {
      const secret = { ...aSecretResource({ data: { a: 'from-data', b: 'kept' } }), stringData: { a: 'wins', c: 'ü' } };
      const created = cluster.create(secret);
      expect(created).not.to.have.property('stringData');
      const decoded = Object.fromEntries(Object.entries(created.data!).map(([k, v]) => [k, Buffer.from(v, 'base64').toString()]));
      expect(decoded).to.deep.equal({ a: 'wins', b: 'kept', c: 'ü' });
    });

    it('rejects invalid objects with a message naming the field', () => {
      const badName = caught(() => cluster.create(aPodResource({ name: 'Not_A_Name' })));
      expect(badName).to.be.instanceOf(KubeApiError).and.have.property('message').that.includes('metadata.name');
      const numberParameter = aClassResource();
      (numberParameter.spec!.parameters as Record<string, unknown>)['usePodIdentity'] = false;
      expect((caught(() => cluster.create(numberParameter)) as Error).message).to.include('spec.parameters.usePodIdentity');
      const badData = aSecretResource();
      badData.data = { key: 'not base64!' };
      expect((caught(() => cluster.create(badData)) as Error).message).to.include('data[key]');
      expect((caught(() => cluster.create({ ...aPodResource(), kind: 'ConfigMap' } as KubeObject)) as Error).message).to.include('unknown kind');
    });
  });

  describe('update', () => {
    it('fails with Conflict when the resourceVersion is stale', () => {
      const created = cluster.create(aPodResource());
      cluster.update({ ...created, metadata: { ...created.metadata, labels: { a: '1' } } });
      const stale = { ...created, metadata: { ...created.metadata, labels: { a: '2' } } };
      expect(isKubeApiError(caught(() => cluster.update(stale)), 'Conflict')).to.equal(true);
      expect(cluster.get('Pod', 'default', 'app-0')!.metadata.labels).to.deep.equal({ a: '1' });
    });

    it('keeps uid and creationTimestamp and bumps the resourceVersion', () => {
      const created = cluster.create(aPodResource());
      const updated = cluster.update({ ...created, metadata: { ...created.metadata, uid: 'forged', labels: { a: '1' } } });
      expect(updated.metadata.uid).to.equal(created.metadata.uid);
      expect(updated.metadata.creationTimestamp).to.equal(created.metadata.creationTimestamp);
      expect(Number(updated.metadata.resourceVersion)).to.be.greaterThan(Number(created.metadata.resourceVersion));
    });

    it('changes nothing, not even the resourceVersion, when the object is unchanged', () => {
      const created = cluster.create(aPodResource());
      expect(cluster.update(created).metadata.resourceVersion).to.equal(created.metadata.resourceVersion);
    });

    it('fails with NotFound for an object that does not exist', () => {
      expect(isKubeApiError(caught(() => cluster.update(aPodResource())), 'NotFound')).to.equal(true);
    });

    it('increments a class generation on spec changes only', () => {
      const created = cluster.create(aClassResource({ parameters: { objects: 'a' } }));
      const relabelled = cluster.update({ ...created, metadata: { ...created.metadata, labels: { x: 'y' } } });
      expect(relabelled.metadata.generation).to.equal(1);
      const respecced = cluster.update({ ...relabelled, spec: { ...relabelled.spec, parameters: { objects: 'b' } } });
      expect(respecced.metadata.generation).to.equal(2);
    });

    it('refuses to change the type of a Secret', () => {
      const created = cluster.create(aSecretResource());
      expect(isKubeApiError(caught(() => cluster.update({ ...created, type: 'kubernetes.io/tls' })), 'Invalid')).to.equal(true);
    });
  });

  describe('patch', () => {
    it('merges maps, removes keys patched to null and replaces lists', () => {
      cluster.create(aSecretResource({ name: 's', data: { a: '1', b: '2' }, labels: { keep: 'k', drop: 'd' } }));
      const patched = cluster.patch('Secret', 'default', 's', {
        metadata: { labels: { drop: null, add: 'n' }, ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: 'p', uid: 'u' }] },
        data: { b: null },
      });
      expect(patched.metadata.labels).to.deep.equal({ keep: 'k', add: 'n' });
      expect(Object.keys(patched.data!)).to.deep.equal(['a']);
      expect(patched.metadata.ownerReferences).to.have.length(1);
    });

    it('treats a resourceVersion in the patch as a precondition', () => {
      const created = cluster.create(aPodResource());
      cluster.patch('Pod', 'default', 'app-0', { metadata: { labels: { a: '1' } } });
      const error = caught(() => cluster.patch('Pod', 'default', 'app-0', { metadata: { resourceVersion: created.metadata.resourceVersion!, labels: { a: '2' } } }));
      expect(isKubeApiError(error, 'Conflict')).to.equal(true);
    });

    it('cannot rename an object or change its uid', () => {
      const created = cluster.create(aPodResource());
      const patched = cluster.patch('Pod', 'default', 'app-0', { metadata: { name: 'other', uid: 'forged' } });
      expect(patched.metadata).to.include({ name: 'app-0', uid: created.metadata.uid });
    });

    it('fails with NotFound for an object that does not exist', () => {
      expect(isKubeApiError(caught(() => cluster.patch('Pod', 'default', 'none', {})), 'NotFound')).to.equal(true);
    });
  });

  describe('get and list', () => {
    it('lists by namespace and label selector, sorted by namespace and name', () => {
      cluster.create(aPodResource({ namespace: 'b', name: 'z' }));
      cluster.create(aPodStatusResource({ namespace: 'b', name: 'two', nodeName: 'n1' }));
      cluster.create(aPodStatusResource({ namespace: 'a', name: 'one', nodeName: 'n1' }));
      cluster.create(aPodStatusResource({ namespace: 'a', name: 'three', nodeName: 'n2' }));
      const names = (options: Parameters<InMemoryCluster['list']>[1]): string[] =>
        cluster.list('SecretProviderClassPodStatus', options).map((o) => `${o.metadata.namespace}/${o.metadata.name}`);
      expect(names({})).to.deep.equal(['a/one', 'a/three', 'b/two']);
      expect(names({ namespace: 'a' })).to.deep.equal(['a/one', 'a/three']);
      expect(names({ labels: { 'internal.secrets-store.csi.k8s.io/node-name': 'n1' } })).to.deep.equal(['a/one', 'b/two']);
    });

    it('hands out copies: changing a returned object or the input changes nothing stored', () => {
      const input = aPodResource();
      const created = cluster.create(input);
      input.metadata.labels = { from: 'input' };
      created.metadata.labels = { from: 'created' };
      cluster.get('Pod', 'default', 'app-0')!.metadata.labels = { from: 'get' };
      cluster.list('Pod')[0]!.metadata.labels = { from: 'list' };
      expect(cluster.get('Pod', 'default', 'app-0')!.metadata.labels).to.equal(undefined);
    });
  });

  describe('delete and garbage collection', () => {
    it('fails with NotFound for an object that does not exist', () => {
      expect(isKubeApiError(caught(() => cluster.delete('Pod', 'default', 'none')), 'NotFound')).to.equal(true);
    });

    it('deletes dependents whose owners are all gone, transitively', () => {
      const pod = cluster.create(aPodResource());
      const status = cluster.create(aPodStatusResource({ owner: ownerOf(pod) }));
      cluster.create(aSecretResource({ name: 'synced', ownerReferences: [ownerOf(status)] }));
      cluster.create(aSecretResource({ name: 'unrelated' }));
      cluster.delete('Pod', 'default', 'app-0');
      expect(cluster.list('SecretProviderClassPodStatus')).to.deep.equal([]);
      expect(cluster.list('Secret').map((s) => s.metadata.name)).to.deep.equal(['unrelated']);
    });

    it('keeps a dependent while one of its owners still exists', () => {
      const first = cluster.create(aPodResource({ name: 'first' }));
      const second = cluster.create(aPodResource({ name: 'second' }));
      cluster.create(aSecretResource({ name: 'shared', ownerReferences: [ownerOf(first), ownerOf(second)] }));
      cluster.delete('Pod', 'default', 'first');
      expect(cluster.get('Secret', 'default', 'shared')).not.to.equal(undefined);
      cluster.delete('Pod', 'default', 'second');
      expect(cluster.get('Secret', 'default', 'shared')).to.equal(undefined);
    });

    it('keeps a dependent whose owner it never held (a pod only kubelet knows) when other objects go', () => {
      const absent = { apiVersion: 'v1', kind: 'Pod', name: 'kubelet-only', uid: 'never-stored' };
      cluster.create(aPodStatusResource({ owner: absent }));
      cluster.create(aPodResource({ name: 'bystander' }));
      cluster.delete('Pod', 'default', 'bystander');
      expect(cluster.list('SecretProviderClassPodStatus')).to.have.length(1);
    });

    it('assumes owners of kinds it does not hold exist', () => {
      const owner = { apiVersion: 'apps/v1', kind: 'ReplicaSet', name: 'rs', uid: 'rs-uid' };
      cluster.create(aPodResource({ name: 'replica', ownerReferences: [owner] }));
      cluster.create(aPodResource({ name: 'bystander' }));
      cluster.delete('Pod', 'default', 'bystander');
      expect(cluster.get('Pod', 'default', 'replica')).not.to.equal(undefined);
    });
  });

  describe('watch', () => {
    it('delivers ADDED, MODIFIED and DELETED in commit order', async () => {
      const seen: string[] = [];
      cluster.watch('Secret', ({ type, object }) => seen.push(`${type} ${object.metadata.name} rv=${object.metadata.resourceVersion}`));
      cluster.create(aSecretResource({ name: 'a' }));
      cluster.patch('Secret', 'default', 'a', { metadata: { labels: { x: 'y' } } });
      cluster.delete('Secret', 'default', 'a');
      await cluster.whenIdle();
      expect(seen).to.deep.equal(['ADDED a rv=1', 'MODIFIED a rv=2', 'DELETED a rv=3']);
    });

    it('calls listeners once the change is readable through get', async () => {
      const readable: boolean[] = [];
      cluster.watch('Secret', ({ type, object }) => {
        const stored = cluster.get('Secret', 'default', object.metadata.name);
        readable.push(type === 'DELETED' ? stored === undefined : stored?.metadata.resourceVersion === object.metadata.resourceVersion);
      });
      cluster.create(aSecretResource({ name: 'a' }));
      await cluster.whenIdle();
      cluster.patch('Secret', 'default', 'a', { metadata: { labels: { x: 'y' } } });
      await cluster.whenIdle();
      cluster.delete('Secret', 'default', 'a');
      await cluster.whenIdle();
      expect(readable).to.deep.equal([true, true, true]);
    });

    it('delivers changes made by a listener after the event being delivered, to every listener', async () => {
      const first: string[] = [];
      const second: string[] = [];
      cluster.watch('Secret', ({ type, object }) => {
        first.push(`${type} ${object.metadata.name}`);
        if (object.metadata.name === 'a') cluster.create(aSecretResource({ name: 'b' }));
      });
      cluster.watch('Secret', ({ type, object }) => second.push(`${type} ${object.metadata.name}`));
      cluster.create(aSecretResource({ name: 'a' }));
      await cluster.whenIdle();
      expect(first).to.deep.equal(['ADDED a', 'ADDED b']);
      expect(second).to.deep.equal(['ADDED a', 'ADDED b']);
    });

    it('reports garbage-collected dependents after their owner', async () => {
      const events: string[] = [];
      cluster.watch('Pod', ({ type, object }) => events.push(`${type} Pod ${object.metadata.name}`));
      cluster.watch('Secret', ({ type, object }) => events.push(`${type} Secret ${object.metadata.name}`));
      const pod = cluster.create(aPodResource());
      cluster.create(aSecretResource({ ownerReferences: [ownerOf(pod)] }));
      cluster.delete('Pod', 'default', 'app-0');
      await cluster.whenIdle();
      expect(events).to.deep.equal(['ADDED Pod app-0', 'ADDED Secret app-synced', 'DELETED Pod app-0', 'DELETED Secret app-synced']);
    });

    it('starts from now: changes committed before the watch began are not replayed', async () => {
      cluster.create(aSecretResource({ name: 'before' }));
      const seen: string[] = [];
      cluster.watch('Secret', ({ object }) => seen.push(object.metadata.name));
      cluster.create(aSecretResource({ name: 'after' }));
      await cluster.whenIdle();
      expect(seen).to.deep.equal(['after']);
    });

    it('stops after unsubscribe and hands each listener its own copy', async () => {
      const received: string[] = [];
      const stop = cluster.watch('Pod', (event) => {
        received.push(event.object.metadata.name);
        event.object.metadata.name = 'mutated';
      });
      const other: string[] = [];
      cluster.watch('Pod', (event) => other.push(event.object.metadata.name));
      cluster.create(aPodResource());
      await cluster.whenIdle();
      stop();
      cluster.create(aPodResource({ name: 'later' }));
      await cluster.whenIdle();
      expect(received).to.deep.equal(['app-0']);
      expect(other).to.deep.equal(['app-0', 'later']);
      expect(cluster.get('Pod', 'default', 'app-0')).not.to.equal(undefined);
    });

    it('keeps delivering when a listener throws', async () => {
      const errors: unknown[] = [];
      const quiet = new InMemoryCluster({ onListenerError: (error) => errors.push(error) });
      const seen: string[] = [];
      quiet.watch('Pod', () => {
        throw new Error('listener bug');
      });
      quiet.watch('Pod', ({ object }) => seen.push(object.metadata.name));
      quiet.create(aPodResource());
      await quiet.whenIdle();
      expect(seen).to.deep.equal(['app-0']);
      expect(errors).to.have.length(1);
    });
  });

  it('fails intercepted writes until the interceptor is removed', () => {
    const remove = cluster.interceptWrites(({ verb, kind }) => (verb === 'create' && kind === 'Secret' ? new Error('refused') : undefined));
    expect(() => cluster.create(aSecretResource())).to.throw('refused');
    expect(() => cluster.create(aPodResource())).not.to.throw();
    remove();
    expect(() => cluster.create(aSecretResource())).not.to.throw();
  });
});
