import { expect } from 'chai';
import { ManualClock } from '../../../src/adapters/clock/manual-clock.js';
import { TargetLocks } from '../../../src/application/target-locks.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { DriverHarness, type TestPod } from '../../support/driver-harness.js';
import type { HungProvider } from '../../support/provider-double.js';
import type { CancelTimer } from '../../../src/ports/clock.js';

/** Lets every pending continuation run (the pool starts checks as promises settle). */
async function settle(): Promise<void> {
  for (let i = 0; i < 50; i++) await new Promise((resolve) => setImmediate(resolve));
}

/** Timers that fire a millisecond before their time, as Node's may against Date.now(). */
class EarlyTimers extends ManualClock {
  override after(delayMs: number, callback: () => void): CancelTimer {
    return super.after(Math.max(0, delayMs - 1), callback);
  }
}

const HUNG_CLASS = 'hung-secrets';
const HEALTHY_CLASS = 'app-secrets';

/**
 * The rotation pool on a manual clock, with one provider that never answers (`hung`) next to a
 * healthy one (`fake`): the hung provider keeps to its share of the slots, and the healthy mounts,
 * kubelet's publishes and unpublishes never wait for it.
 */
describe('Rotation isolation: a hung provider next to a healthy one', () => {
  let harness: DriverHarness;
  let hung: HungProvider;
  let hungPods: TestPod[];
  let healthy: TestPod;
  const interval = (): number => harness.rotation.intervalMs;
  const healthyChecks = (): number => harness.provider.callsByProvider.get('fake') ?? 0;

  /** Moves time in steps without waiting for the pool to drain (hung checks never do). */
  async function run(ms: number, step = 500): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += step) {
      harness.clock.advance(Math.min(step, ms - elapsed));
      await settle();
    }
  }

  async function hangNextToHealthy(clock?: ManualClock): Promise<void> {
    harness = new DriverHarness({ rotation: { workers: 4 }, ...(clock ? { clock } : {}) });
    harness.addClass({ name: HEALTHY_CLASS });
    harness.addClass({ name: HUNG_CLASS, provider: 'hung' });
    hungPods = [];
    for (let i = 0; i < 8; i++) {
      const pod = harness.addPod({ name: `hung-${i}` });
      await harness.publish(pod, HUNG_CLASS);
      hungPods.push(pod);
    }
    healthy = harness.addPod({ name: 'healthy' });
    await harness.publish(healthy);
    hung = harness.provider.hang('hung');
  }

  beforeEach(() => hangNextToHealthy());

  afterEach(async () => {
    hung.release();
    expectNoSecretLeaked(harness);
    await harness.stop();
  });

  it('holds at most all but one slot, and the healthy mount is checked once per interval while the hung calls stay open', async () => {
    const before = healthyChecks();

    await run(interval());
    expect(hung.waiting, 'hung checks holding slots').to.equal(3);
    expect(healthyChecks() - before, 'checked at its due time').to.equal(1);

    for (let round = 2; round <= 5; round++) {
      await run(interval());
      expect(healthyChecks() - before, `checks after ${round} intervals`).to.equal(round);
      expect(hung.waiting, 'the hung checks never took the healthy slot').to.equal(3);
    }
  });

  it('keeps the healthy schedule when a timer fires a moment early, while every slot the hung provider may take is held', async () => {
    await harness.stop();
    await hangNextToHealthy(new EarlyTimers());
    const before = healthyChecks();
    await run(interval() / 2); // due times fall in the middle of a step

    for (let round = 1; round <= 4; round++) {
      await run(interval());
      expect(healthyChecks() - before, `checks after ${round} intervals`).to.equal(round);
    }
    expect(hung.waiting).to.equal(3);
  });

  it('serves a kubelet publish and republish of the healthy provider while every slot the hung provider may take is held', async () => {
    await run(interval());
    expect(hung.waiting).to.equal(3);
    const late = harness.addPod({ name: 'late' });

    await harness.publish(late);
    await harness.publish(healthy);

    expect(await harness.mountedText(late.target)).to.deep.equal({ 'db-password': 'db-password-v1' });
    expect(hung.waiting, 'the hung checks are still open').to.equal(3);
  });

  it('lets an unpublish cancel a hung check of its target and win at once', async () => {
    await run(interval());
    const locks = harness.container.get(TargetLocks);
    const target = hungPods.map((pod) => pod.target).find((path) => locks.heldByRotation(path));
    expect(target, 'a hung check holds its target').not.to.equal(undefined);
    const cancelledBefore = hung.cancelled;

    await harness.unpublish(target!);

    expect(hung.cancelled - cancelledBefore, 'its provider call was cancelled').to.equal(1);
    expect(harness.exists(target!)).to.equal(false);
    expect(harness.registry.get(target!)).to.equal(undefined);
    expect(harness.events('MountRotationFailed'), 'a cancelled check reports no failure').to.deep.equal([]);
  });
});

describe('Rotation isolation: a failing provider backs off beyond the interval', () => {
  it('retries 1, 2, 4, 8, 16 s after the failures, the last one beyond the 10 s interval', async () => {
    const harness = new DriverHarness();
    try {
      harness.addClass();
      const pod = harness.addPod();
      await harness.publish(pod);
      harness.fake.fail({ kind: 'unavailable' });
      await harness.advance(harness.rotation.intervalMs);
      const checkTimes: number[] = [];
      const start = harness.clock.now();
      let calls = harness.provider.calls;
      for (let elapsed = 0; elapsed <= 31_000; elapsed += 1_000) {
        await harness.advance(1_000);
        if (harness.provider.calls > calls) checkTimes.push(harness.clock.now() - start);
        calls = harness.provider.calls;
      }
      expect(checkTimes).to.deep.equal([1_000, 3_000, 7_000, 15_000, 31_000]);
    } finally {
      await harness.stop();
    }
  });
});
