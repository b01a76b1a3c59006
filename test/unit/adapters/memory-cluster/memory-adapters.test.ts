import { expect } from 'chai';
import { KubeApiError } from '../../../../src/adapters/memory-cluster/cluster-errors.js';
import { InMemoryCluster } from '../../../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryEventRecorder } from '../../../../src/adapters/memory-cluster/memory-event-recorder.js';
import { MemoryPodStatusStore } from '../../../../src/adapters/memory-cluster/memory-pod-status-store.js';
import { MemorySecretProviderClassSource } from '../../../../src/adapters/memory-cluster/memory-secret-provider-class-source.js';
import type { ClassChange } from '../../../../src/ports/secret-provider-class-source.js';
import type { LogFields, Logger } from '../../../../src/ports/logger.js';
import { aClassResource, aPodResource, aPodStatusFor, ownerOf } from '../../../support/cluster-builders.js';

describe('MemoryPodStatusStore', () => {
  let cluster: InMemoryCluster;
  let store: MemoryPodStatusStore;

  beforeEach(() => {
    cluster = new InMemoryCluster();
    store = new MemoryPodStatusStore(cluster);
  });

  it('retries a save that lost a write race', async () => {
    const pod = cluster.create(aPodResource());
    await store.save(aPodStatusFor(pod), ownerOf(pod));
    let conflicts = 1;
    cluster.interceptWrites(({ verb }) => (verb === 'update' && conflicts-- > 0 ? new KubeApiError('Conflict', 'raced') : undefined));
    const saved = await store.save(aPodStatusFor(pod, { mounted: false }), ownerOf(pod));
    expect(saved.mounted).to.equal(false);
  });

  it('gives up with the conflict when the race keeps being lost', async () => {
    const pod = cluster.create(aPodResource());
    await store.save(aPodStatusFor(pod), ownerOf(pod));
    cluster.interceptWrites(({ verb }) => (verb === 'update' ? new KubeApiError('Conflict', 'raced') : undefined));
    const error = await store.save(aPodStatusFor(pod, { mounted: false }), ownerOf(pod)).catch((e: unknown) => e);
    expect(error).to.be.instanceOf(KubeApiError).and.have.property('reason', 'Conflict');
  });

  it('makes a recreated pod of the same name the only owner', async () => {
    const first = cluster.create(aPodResource());
    await store.save(aPodStatusFor(first), ownerOf(first));
    // A StatefulSet pod comes back with the same name and a new uid.
    const recreated = { ...ownerOf(first), uid: 'uid-of-the-recreated-pod' };
    const saved = await store.save(aPodStatusFor(first, { podUid: recreated.uid }), recreated);
    expect(saved.podUid).to.equal(recreated.uid);
    const object = cluster.get('SecretProviderClassPodStatus', 'default', saved.name)!;
    expect(object.metadata.ownerReferences!.map((o) => o.uid)).to.deep.equal([recreated.uid]);
  });

  it('keeps labels other writers put on the object', async () => {
    const pod = cluster.create(aPodResource());
    const saved = await store.save(aPodStatusFor(pod), ownerOf(pod));
    cluster.patch('SecretProviderClassPodStatus', 'default', saved.name, { metadata: { labels: { extra: 'kept' } } });
    await store.save(aPodStatusFor(pod, { mounted: false }), ownerOf(pod));
    expect(cluster.get('SecretProviderClassPodStatus', 'default', saved.name)!.metadata.labels).to.include({ extra: 'kept' });
  });
});

describe('MemoryEventRecorder', () => {
  let cluster: InMemoryCluster;
  let now: number;
  const clock = { now: () => now };
  const pod = { namespace: 'default', name: 'app-0', uid: 'pod-uid' };

  beforeEach(() => {
    cluster = new InMemoryCluster();
    now = Date.parse('2026-05-06T07:08:09.500Z');
  });

  it('counts a repeated event on the existing Event instead of adding another', async () => {
    const recorder = new MemoryEventRecorder(cluster, clock);
    await recorder.record({ pod, type: 'Warning', reason: 'MountRotationFailed', message: 'boom' });
    now += 60_000;
    await recorder.record({ pod, type: 'Warning', reason: 'MountRotationFailed', message: 'boom' });
    const events = cluster.list('Event');
    expect(events).to.have.length(1);
    expect(events[0]).to.deep.include({ count: 2, firstTimestamp: '2026-05-06T07:08:09Z', lastTimestamp: '2026-05-06T07:09:09Z' });
  });

  it('names events like client-go and keeps names unique within one clock reading', async () => {
    const recorder = new MemoryEventRecorder(cluster, clock);
    await recorder.record({ pod, type: 'Normal', reason: 'MountRotationComplete', message: 'one' });
    await recorder.record({ pod, type: 'Normal', reason: 'MountRotationComplete', message: 'two' });
    const names = cluster.list('Event').map((e) => e.metadata.name);
    expect(names).to.have.length(2);
    for (const name of names) expect(name).to.match(/^app-0\.[0-9a-f]+$/);
  });

  it('reports the node as source host and reporting instance', async () => {
    await new MemoryEventRecorder(cluster, clock, { nodeName: 'node-7' }).record({ pod, type: 'Normal', reason: 'SecretRotationComplete', message: 'ok' });
    expect(cluster.list('Event')[0]).to.deep.include({
      source: { component: 'secrets-store-csi-driver', host: 'node-7' },
      reportingComponent: 'secrets-store-csi-driver',
      reportingInstance: 'node-7',
    });
  });

  it('logs an event it could not record', async () => {
    const warnings: [string, LogFields | undefined][] = [];
    const logger: Logger = { debug: () => undefined, info: () => undefined, error: () => undefined, warn: (m, f) => warnings.push([m, f]) };
    cluster.interceptWrites(() => new KubeApiError('InternalError', 'down'));
    await new MemoryEventRecorder(cluster, clock, { logger }).record({ pod, type: 'Warning', reason: 'FailedToCreateSecret', message: 'x' });
    expect(warnings).to.have.length(1);
    expect(warnings[0]![1]).to.include({ reason: 'FailedToCreateSecret', object: 'Pod default/app-0', error: 'down' });
  });
});

describe('MemorySecretProviderClassSource', () => {
  it('reports a class that was created', async () => {
    const cluster = new InMemoryCluster();
    const changes: ClassChange[] = [];
    new MemorySecretProviderClassSource(cluster).onChange((change) => changes.push(change));
    cluster.create(aClassResource({ namespace: 'apps', name: 'new-class' }));
    await cluster.whenIdle();
    expect(changes).to.deep.equal([{ namespace: 'apps', name: 'new-class' }]);
  });
});
