import { expect } from 'chai';
import type { EventResource, PodResource } from '../../src/adapters/kube-objects/object-shapes.js';
import { MessageCap, truncationMarker } from '../../src/domain/bounded-text.js';
import type { EventRecorder, PodEvent, PodReference } from '../../src/ports/event-recorder.js';
import { aPodResource } from '../support/cluster-builders.js';
import { eventually } from './eventually.js';

export interface EventRecorderFixture {
  readonly recorder: EventRecorder;
  readonly namespace: string;
  putPod(object: PodResource): Promise<PodResource>;
  readEvents(namespace: string): Promise<EventResource[]>;
  /** Makes every later write to the backing cluster fail. */
  failWrites(): void;
  close(): Promise<void>;
}

/** The EventRecorder port contract. */
export function eventRecorderContract(makeFixture: () => Promise<EventRecorderFixture>): void {
  describe('EventRecorder contract', () => {
    let fixture: EventRecorderFixture;
    let pod: PodReference;

    beforeEach(async () => {
      fixture = await makeFixture();
      const stored = await fixture.putPod(aPodResource({ namespace: fixture.namespace, name: 'app-0' }));
      pod = { namespace: fixture.namespace, name: 'app-0', uid: stored.metadata.uid! };
    });
    afterEach(() => fixture.close());

    const eventsAbout = async (reason: string): Promise<EventResource[]> =>
      (await fixture.readEvents(fixture.namespace)).filter((e) => e.involvedObject.uid === pod.uid && e.reason === reason);

    it('records the reason, type and message as an Event on the pod', async () => {
      await fixture.recorder.record({ pod, type: 'Normal', reason: 'MountRotationComplete', message: 'rotated secret/db v1 -> v2' });
      const [event] = await eventually(async () => {
        const found = await eventsAbout('MountRotationComplete');
        expect(found).to.have.length(1);
        return found;
      });
      expect(event!.metadata.namespace).to.equal(fixture.namespace);
      expect(event!.involvedObject).to.include({ kind: 'Pod', namespace: pod.namespace, name: pod.name, uid: pod.uid });
      expect(event).to.deep.include({ type: 'Normal', message: 'rotated secret/db v1 -> v2' });
      expect(event!.source?.component).to.equal('secrets-store-csi-driver');
      expect(event!.count ?? 1).to.be.at.least(1);
    });

    it('records an event on a workload, named as the workload', async () => {
      const workload = { kind: 'Deployment', namespace: fixture.namespace, name: 'web', uid: 'web-uid' } as const;
      await fixture.recorder.record({ workload, type: 'Normal', reason: 'RestartedOnRotation', message: 'restarting pods after a rotation' });
      const [event] = await eventually(async () => {
        const found = (await fixture.readEvents(fixture.namespace)).filter((e) => e.involvedObject.uid === 'web-uid');
        expect(found).to.have.length(1);
        return found;
      });
      expect(event!.metadata.name).to.match(/^web\.[0-9a-f]+$/);
      expect(event!.involvedObject).to.include({ apiVersion: 'apps/v1', kind: 'Deployment', namespace: fixture.namespace, name: 'web' });
      expect(event).to.deep.include({ type: 'Normal', reason: 'RestartedOnRotation', message: 'restarting pods after a rotation' });
    });

    it('records Warning events', async () => {
      await fixture.recorder.record({ pod, type: 'Warning', reason: 'SecretRotationFailed', message: 'provider unavailable' });
      const [event] = await eventually(async () => {
        const found = await eventsAbout('SecretRotationFailed');
        expect(found).to.have.length(1);
        return found;
      });
      expect(event).to.deep.include({ type: 'Warning', message: 'provider unavailable' });
    });

    it(`records a message of a megabyte cut to ${MessageCap.event} bytes with the marker, and counts its repeat on that Event`, async () => {
      const message = `failed to rotate mounted contents: provider "vault" failed to mount: ${'E'.repeat(1_000_000)}`;
      await fixture.recorder.record({ pod, type: 'Warning', reason: 'MountRotationFailed', message });
      await fixture.recorder.record({ pod, type: 'Warning', reason: 'MountRotationFailed', message });
      const [event] = await eventually(async () => {
        const found = await eventsAbout('MountRotationFailed');
        expect(found).to.have.length(1);
        expect(found[0]!.count).to.equal(2);
        return found;
      });
      expect(Buffer.byteLength(event!.message ?? '')).to.be.at.most(MessageCap.event);
      expect(event!.message).to.match(/^failed to rotate mounted contents: provider "vault" failed to mount: E+/);
      expect(event!.message!.endsWith(truncationMarker(Buffer.byteLength(message)))).to.equal(true);
    });

    it('resolves without recording anything when the cluster refuses writes', async () => {
      fixture.failWrites();
      const event: PodEvent = { pod, type: 'Warning', reason: 'FailedToCreateSecret', message: 'denied' };
      let outcome = 'resolved';
      await fixture.recorder.record(event).catch(() => (outcome = 'rejected'));
      expect(outcome).to.equal('resolved');
      expect(await eventsAbout('FailedToCreateSecret')).to.deep.equal([]);
    });

    it('resolves for an event about a pod that does not exist', async () => {
      const ghost = { namespace: fixture.namespace, name: 'ghost', uid: 'no-such-uid' };
      let outcome = 'resolved';
      await fixture.recorder.record({ pod: ghost, type: 'Normal', reason: 'MountRotationComplete', message: 'x' }).catch(() => (outcome = 'rejected'));
      expect(outcome).to.equal('resolved');
    });
  });
}
