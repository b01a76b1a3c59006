import { expect } from 'chai';
import { DriverHarness, objectsParameter, type TestPod } from '../../support/driver-harness.js';

describe('Rotation leaves finished and terminating pods alone', () => {
  let harness: DriverHarness;
  let pod: TestPod;

  beforeEach(async () => {
    harness = new DriverHarness();
    harness.addClass({ parameters: { objects: objectsParameter('db-password') } });
    pod = harness.addPod();
    await harness.publish(pod);
    harness.store.rotate('db-password');
  });
  afterEach(() => harness.stop());

  /** Edits the live Pod object as the API server would show a pod's progress. */
  async function changePod(change: (object: Record<string, any>) => void): Promise<void> {
    const object = harness.cluster.get('Pod', pod.namespace, pod.name)! as unknown as Record<string, any>;
    change(object);
    harness.cluster.update(object as never);
    await harness.cluster.whenIdle();
  }

  const cases: { name: string; reason: string; change: (object: Record<string, any>) => void }[] = [
    { name: 'a terminating pod', reason: 'PodTerminating', change: (object) => (object['metadata']['deletionTimestamp'] = '2026-11-27T18:30:00Z') },
    { name: 'a pod that succeeded', reason: 'PodSucceeded', change: (object) => (object['status'] = { phase: 'Succeeded' }) },
    { name: 'a pod that failed', reason: 'PodFailed', change: (object) => (object['status'] = { phase: 'Failed' }) },
  ];

  for (const { name, reason, change } of cases) {
    it(`does not ask the provider nor touch the files of ${name}, and counts rotation_skipped_total{reason="${reason}"}`, async () => {
      await changePod(change);

      await harness.advance(harness.rotation.intervalMs);

      expect(harness.provider.calls).to.equal(1);
      expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
      expect(harness.metrics.count('rotation_skipped_total', { reason })).to.equal(1);
      expect(harness.metrics.count('rotation_skipped_total')).to.equal(1);
    });
  }

  it('checks again one interval later: a skipped check is rescheduled, not dropped', async () => {
    await changePod((object) => (object['status'] = { phase: 'Succeeded' }));
    await harness.advance(harness.rotation.intervalMs);
    await changePod((object) => (object['status'] = { phase: 'Running' }));

    await harness.advance(harness.rotation.intervalMs);

    expect(await harness.mountedText(pod.target)).to.deep.equal({ 'db-password': 'db-password-v2' });
  });
});
