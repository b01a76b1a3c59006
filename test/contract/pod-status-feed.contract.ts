import { expect } from 'chai';
import type { PodResource } from '../../src/adapters/kube-objects/object-shapes.js';
import type { StoredPodStatus } from '../../src/domain/pod-status.js';
import type { PodStatusChange, PodStatusFeed } from '../../src/ports/pod-status-feed.js';
import type { PodStatusStore } from '../../src/ports/pod-status-store.js';
import { aPodResource, aPodStatusFor, ownerOf } from '../support/cluster-builders.js';
import { eventually } from './eventually.js';

export interface PodStatusFeedFixture {
  readonly feed: PodStatusFeed;
  /** Writes pod statuses as a node agent does. */
  readonly writer: PodStatusStore;
  readonly namespace: string;
  putPod(object: PodResource): Promise<PodResource>;
  /** Deletes a pod status object, as the garbage collector does when its pod goes. */
  deleteStatus(namespace: string, name: string): Promise<void>;
  close(): Promise<void>;
}

/** The PodStatusFeed port contract. */
export function podStatusFeedContract(makeFixture: () => Promise<PodStatusFeedFixture>): void {
  describe('PodStatusFeed contract', () => {
    let fixture: PodStatusFeedFixture;
    let namespace: string;

    beforeEach(async () => {
      fixture = await makeFixture();
      namespace = fixture.namespace;
    });
    afterEach(() => fixture.close());

    const versionsOf = (status: StoredPodStatus | undefined): string | undefined => status?.objects.map((o) => `${o.id}=${o.version}`).join(',');

    it('lists the records of one namespace from every node, and tells each add, update and delete with the record before', async () => {
      const changes: PodStatusChange[] = [];
      const stop = fixture.feed.onChange((change) => {
        if ((change.current ?? change.previous)?.namespace === namespace) changes.push(change);
      });
      try {
        const pod1 = await fixture.putPod(aPodResource({ namespace, name: 'web-0', nodeName: 'node-1' }));
        const pod2 = await fixture.putPod(aPodResource({ namespace, name: 'web-1', nodeName: 'node-2' }));
        const first = aPodStatusFor(pod1, { nodeName: 'node-1', objects: [{ id: 'db', version: 'v1' }] });
        await fixture.writer.save(first, ownerOf(pod1));
        await fixture.writer.save(aPodStatusFor(pod2, { nodeName: 'node-2', objects: [{ id: 'db', version: 'v1' }] }), ownerOf(pod2));
        await eventually(async () => expect((await fixture.feed.list(namespace)).map((s) => `${s.podName}@${s.nodeName}`).sort()).to.deep.equal(['web-0@node-1', 'web-1@node-2']), 10_000, 20);

        const rotationTime = Date.parse('2026-12-01T10:00:00Z');
        await fixture.writer.save({ ...first, objects: [{ id: 'db', version: 'v2' }], rotation: { lastRotationTime: rotationTime } }, ownerOf(pod1));
        await fixture.deleteStatus(namespace, first.name);
        await eventually(() => expect(changes.length).to.equal(4), 10_000, 20);
        const [added, , updated, deleted] = changes;
        expect(added).to.deep.include({ previous: undefined });
        expect(versionsOf(added!.current)).to.equal('db=v1');
        expect(versionsOf(updated!.previous)).to.equal('db=v1');
        expect(versionsOf(updated!.current)).to.equal('db=v2');
        expect(updated!.current?.rotation?.lastRotationTime).to.equal(rotationTime);
        expect(deleted!.current).to.equal(undefined);
        expect(versionsOf(deleted!.previous)).to.equal('db=v2');
        expect((await fixture.feed.list(namespace)).map((s) => s.podName)).to.deep.equal(['web-1']);
        expect(await fixture.feed.list(`${namespace}-other`)).to.deep.equal([]);
      } finally {
        stop();
      }
    });

    it('tells every listener the record before a change, whenever it subscribed', async () => {
      const pod = await fixture.putPod(aPodResource({ namespace, name: 'web-0', nodeName: 'node-1' }));
      const status = aPodStatusFor(pod, { nodeName: 'node-1', objects: [{ id: 'db', version: 'v1' }] });
      await fixture.writer.save(status, ownerOf(pod));
      await eventually(async () => expect(await fixture.feed.list(namespace)).to.have.length(1), 10_000, 20);
      const heard: string[][] = [[], []];
      const stops = heard.map((changes) =>
        fixture.feed.onChange(({ previous, current }) => {
          if ((current ?? previous)?.namespace === namespace) changes.push(`${versionsOf(previous) ?? 'none'} -> ${versionsOf(current) ?? 'none'}`);
        }),
      );
      try {
        await fixture.writer.save({ ...status, objects: [{ id: 'db', version: 'v2' }] }, ownerOf(pod));
        await eventually(() => expect(heard.map((changes) => changes.length)).to.deep.equal([1, 1]), 10_000, 20);
        expect(heard).to.deep.equal([['db=v1 -> db=v2'], ['db=v1 -> db=v2']]);
      } finally {
        for (const stop of stops) stop();
      }
    });
  });
}
