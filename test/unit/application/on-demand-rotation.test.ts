import { expect } from 'chai';
import { RotationAnnotation } from '../../../src/domain/rotation-policy.js';
import { DriverHarness, objectsParameter, type TestPod } from '../../support/driver-harness.js';

describe('On-demand rotation through the pod annotation secrets-store.csi.k8s.io/rotate-requested-at', () => {
  let harness: DriverHarness;

  beforeEach(() => {
    harness = new DriverHarness();
    harness.addClass({ parameters: { objects: objectsParameter('db-password') } });
  });
  afterEach(() => harness.stop());

  /** Edits the live Pod's metadata as `kubectl annotate`/`label` would. */
  async function editPod(pod: TestPod, change: (metadata: { annotations?: Record<string, string>; labels?: Record<string, string> }) => void): Promise<void> {
    const object = harness.cluster.get('Pod', pod.namespace, pod.name)!;
    change(object.metadata as never);
    harness.cluster.update(object);
    await harness.cluster.whenIdle();
  }

  const request = (value: string) => (metadata: { annotations?: Record<string, string> }) =>
    (metadata.annotations = { ...metadata.annotations, [RotationAnnotation.rotateRequestedAt]: value });

  it('rotates the mounts of the pod at once when the annotation takes a new value', async () => {
    const pod = harness.addPod();
    await harness.publish(pod);
    harness.store.rotate('db-password');

    await editPod(pod, request('2026-11-27T18:31:00Z'));
    await harness.advance(0);

    expect(harness.provider.calls).to.equal(2);
    expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
  });

  it('acts once per value: other changes of the pod do not rotate again', async () => {
    const pod = harness.addPod();
    await harness.publish(pod);
    await editPod(pod, request('first'));
    await harness.advance(0);

    await editPod(pod, (metadata) => (metadata.labels = { ...metadata.labels, touched: 'yes' }));
    await harness.advance(0);

    expect(harness.provider.calls).to.equal(2);
  });

  it('counts a value the pod already carried when it was mounted as handled', async () => {
    const pod = harness.addPod({ annotations: { [RotationAnnotation.rotateRequestedAt]: 'before-mount' } });
    await harness.publish(pod);

    await editPod(pod, (metadata) => (metadata.labels = { ...metadata.labels, touched: 'yes' }));
    await harness.advance(0);

    expect(harness.provider.calls).to.equal(1);
  });

  it('rotates again for the next new value, and leaves other pods alone', async () => {
    const pod = harness.addPod({ name: 'asked', uid: 'asked-uid' });
    const other = harness.addPod({ name: 'other', uid: 'other-uid' });
    await harness.publish(pod);
    await harness.publish(other);
    await editPod(pod, request('one'));
    await harness.advance(0);
    harness.store.rotate('db-password');

    await editPod(pod, request('two'));
    await harness.advance(0);

    expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
    expect(await harness.mountedText(other.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
  });
});
