import { expect } from 'chai';
import type { EventResource, PodResource, StringRecord } from '../../src/adapters/kube-objects/object-shapes.js';
import type { CsiDriverShape, PodFeed, PodFeedEvent } from '../../src/adapters/kube-objects/pod-feed.js';
import { MessageCap, truncateText } from '../../src/domain/bounded-text.js';
import type { PodIdentity } from '../../src/domain/volume-binding.js';
import { aPodResource } from '../support/cluster-builders.js';
import { eventually } from './eventually.js';

/** The node the fixture's feed follows. */
export const FEED_NODE = 'node-1';
/** The CSIDriver every fixture holds under `csiDriverName` (a cluster may add defaulted fields). */
export const FEED_CSI_DRIVER: CsiDriverShape = {
  podInfoOnMount: true,
  requiresRepublish: true,
  volumeLifecycleModes: ['Ephemeral'],
  tokenRequests: [{ audience: 'vault', expirationSeconds: 600 }],
};

export interface PodFeedFixture {
  /** A feed for FEED_NODE, not started. */
  readonly feed: PodFeed;
  readonly namespace: string;
  /** The name of a CSIDriver with FEED_CSI_DRIVER's spec. */
  readonly csiDriverName: string;
  /** Creates (or replaces labels and annotations of) a pod, and returns it as stored. */
  putPod(object: PodResource): Promise<PodResource>;
  /** Starts a graceful deletion: the pod stays with a deletionTimestamp. */
  terminatePod(namespace: string, name: string): Promise<void>;
  deletePod(namespace: string, name: string): Promise<void>;
  readPod(namespace: string, name: string): Promise<PodResource | undefined>;
  putSecret(namespace: string, name: string, data: StringRecord): Promise<void>;
  events(namespace: string): Promise<EventResource[]>;
  close(): Promise<void>;
}

const identity = (pod: PodResource): PodIdentity => ({
  namespace: pod.metadata.namespace!,
  name: pod.metadata.name,
  uid: pod.metadata.uid!,
  serviceAccountName: pod.spec!.serviceAccountName!,
});

/** The PodFeed contract: what a kubelet relies on from the control plane it runs against. */
export function podFeedContract(makeFixture: () => Promise<PodFeedFixture>): void {
  describe('PodFeed contract', () => {
    let fixture: PodFeedFixture;
    let namespace: string;
    let delivered: PodFeedEvent[];
    // Other tests' pods may share the cluster and the node: only the fixture's namespace counts.
    const record = (event: PodFeedEvent): void => {
      if (event.pod.metadata.namespace === namespace) delivered.push(event);
    };
    const seen = (): string[] => delivered.map(({ type, pod }) => `${type} ${pod.metadata.name}${pod.metadata.deletionTimestamp ? ' terminating' : ''}`);

    beforeEach(async () => {
      fixture = await makeFixture();
      namespace = fixture.namespace;
      delivered = [];
    });
    afterEach(async () => {
      await fixture.feed.stop();
      await fixture.close();
    });

    it('delivers the pods bound to its node as ADDED at the start, and only those', async () => {
      await fixture.putPod(aPodResource({ namespace, name: 'here-0', nodeName: FEED_NODE }));
      await fixture.putPod(aPodResource({ namespace, name: 'elsewhere-0', nodeName: 'node-2' }));
      fixture.feed.start(record);
      await fixture.feed.whenSynced();
      expect(seen()).to.deep.equal(['ADDED here-0']);
      expect(delivered[0]!.pod.spec!.volumes![0]!.csi!.volumeAttributes).to.deep.equal({ secretProviderClass: 'app-secrets' });
    });

    it('then delivers each change of its pods in order: added, changed, terminating, deleted', async () => {
      fixture.feed.start(record);
      await fixture.feed.whenSynced();
      await fixture.putPod(aPodResource({ namespace, name: 'later-0', nodeName: FEED_NODE }));
      await fixture.putPod(aPodResource({ namespace, name: 'other-node', nodeName: 'node-2' }));
      await eventually(() => expect(seen()[0]).to.equal('ADDED later-0'), 10_000);
      await fixture.putPod(aPodResource({ namespace, name: 'later-0', nodeName: FEED_NODE, annotations: { team: 'web' } }));
      await eventually(() => expect(delivered.at(-1)?.pod.metadata.annotations).to.deep.equal({ team: 'web' }), 10_000);
      await fixture.terminatePod(namespace, 'later-0');
      await eventually(() => expect(seen().at(-1)).to.equal('MODIFIED later-0 terminating'), 10_000);
      await fixture.deletePod(namespace, 'later-0');
      await eventually(() => expect(seen().at(-1)).to.match(/^DELETED later-0/), 10_000);
      expect(seen().filter((line) => line.includes('other-node'))).to.deep.equal([]);
    });

    it('delivers nothing once stopped', async () => {
      fixture.feed.start(record);
      await fixture.feed.whenSynced();
      await fixture.feed.stop();
      await fixture.putPod(aPodResource({ namespace, name: 'after-stop', nodeName: FEED_NODE }));
      // The write is readable, so a running feed would have had the time to see it by now.
      expect(await fixture.readPod(namespace, 'after-stop')).not.to.equal(undefined);
      expect(seen()).to.deep.equal([]);
    });

    it('reads the CSIDriver by name, and undefined for a name without one', async () => {
      expect(await fixture.feed.csiDriver(fixture.csiDriverName)).to.deep.include(FEED_CSI_DRIVER);
      expect(await fixture.feed.csiDriver('no-such-driver.example.com')).to.equal(undefined);
    });

    it('reads a Secret as text, and rejects for a Secret that does not exist', async () => {
      await fixture.putSecret(namespace, 'store-creds', { clientid: 'id-1', clientsecret: 's3cr3t ünïcode' });
      expect(await fixture.feed.secretData(namespace, 'store-creds')).to.deep.equal({ clientid: 'id-1', clientsecret: 's3cr3t ünïcode' });
      let failure: unknown;
      await fixture.feed.secretData(namespace, 'no-such-secret').catch((error: unknown) => (failure = error));
      expect(String(failure)).to.include('not found');
    });

    it('mints the tokens kubelet passes: one per audience, in its JSON', async () => {
      const pod = await fixture.putPod(aPodResource({ namespace, name: 'token-0', nodeName: FEED_NODE }));
      expect(await fixture.feed.serviceAccountTokens(identity(pod), [])).to.equal(undefined);
      const json = await fixture.feed.serviceAccountTokens(identity(pod), [{ audience: 'vault', expirationSeconds: 600 }]);
      const tokens = JSON.parse(json!) as Record<string, { token: string; expirationTimestamp: string }>;
      expect(Object.keys(tokens)).to.deep.equal(['vault']);
      expect(tokens['vault']!.token).to.be.a('string').and.not.equal('');
      expect(Date.parse(tokens['vault']!.expirationTimestamp)).to.be.greaterThan(Date.now());
    });

    it('records a Warning event on the pod as kubelet, on its node', async () => {
      const pod = await fixture.putPod(aPodResource({ namespace, name: 'warned-0', nodeName: FEED_NODE }));
      await fixture.feed.recordWarning(identity(pod), 'FailedMount', 'MountVolume.SetUp failed for volume "secrets" : boom');
      const events = await fixture.events(namespace);
      expect(events).to.have.length(1);
      expect(events[0]).to.deep.include({ reason: 'FailedMount', type: 'Warning', message: 'MountVolume.SetUp failed for volume "secrets" : boom' });
      expect(events[0]!.source).to.deep.equal({ component: 'kubelet', host: FEED_NODE });
      expect(events[0]!.involvedObject).to.deep.include({ kind: 'Pod', name: 'warned-0', namespace, uid: pod.metadata.uid });
    });

    it("cuts a Warning event's message to the event cap, as the driver's own recorder does (it quotes the driver's answer and names from the pod)", async () => {
      const pod = await fixture.putPod(aPodResource({ namespace, name: 'warned-1', nodeName: FEED_NODE }));
      const message = `MountVolume.SetUp failed for volume "secrets" : ${'x'.repeat(3 * MessageCap.event)}`;
      await fixture.feed.recordWarning(identity(pod), 'FailedMount', message);
      const events = await fixture.events(namespace);
      expect(events).to.have.length(1);
      expect(events[0]!.message).to.equal(truncateText(message, MessageCap.event));
    });

    it('confirms a deletion only for the pod with that uid: true once deleted, false when gone or replaced', async () => {
      const pod = await fixture.putPod(aPodResource({ namespace, name: 'leaving-0', nodeName: FEED_NODE }));
      expect(await fixture.feed.confirmDeletion(identity(pod))).to.equal(true);
      await eventually(async () => expect(await fixture.readPod(namespace, 'leaving-0')).to.equal(undefined), 10_000);
      expect(await fixture.feed.confirmDeletion(identity(pod))).to.equal(false);
      const successor = await fixture.putPod(aPodResource({ namespace, name: 'leaving-0', nodeName: FEED_NODE }));
      expect(await fixture.feed.confirmDeletion(identity(pod))).to.equal(false);
      expect((await fixture.readPod(namespace, 'leaving-0'))?.metadata.uid).to.equal(successor.metadata.uid);
    });
  });
}
