import { expect } from 'chai';
import { ManualClock } from '../../../src/adapters/clock/manual-clock.js';
import { TargetLocks } from '../../../src/application/target-locks.js';
import { expectNoSecretLeaked } from '../../support/driver-assertions.js';
import { DriverHarness, type TestPod } from '../../support/driver-harness.js';
import type { HungProvider } from '../../support/provider-double.js';
import { RotateBinding } from '../../../src/application/rotate-binding.js';
import { RotationReconciler } from '../../../src/application/rotation-reconciler.js';
import type { SecretProviderClass } from '../../../src/domain/secret-provider-class.js';
import { Random, Scheduler, type CancelTimer } from '../../../src/ports/clock.js';
import { PodSource } from '../../../src/ports/pod-source.js';
import { SecretProviderClassSource, type ClassChange } from '../../../src/ports/secret-provider-class-source.js';

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

/** A class source whose reads wait at a gate until it is opened (an API server read before the cache has loaded). */
class GatedClasses implements SecretProviderClassSource {
  private opened = false;
  private readonly gate: Promise<void>;
  private openGate!: () => void;
  /** Resolves once a read is waiting at the gate. */
  readonly reached: Promise<void>;
  private reach!: () => void;

  constructor(private readonly inner: SecretProviderClassSource) {
    this.gate = new Promise((resolve) => (this.openGate = resolve));
    this.reached = new Promise((resolve) => (this.reach = resolve));
  }

  async get(namespace: string, name: string): Promise<SecretProviderClass | undefined> {
    if (!this.opened) {
      this.reach();
      await this.gate;
    }
    return this.inner.get(namespace, name);
  }

  onChange(listener: (change: ClassChange) => void): () => void {
    return this.inner.onChange(listener);
  }

  open(): void {
    this.opened = true;
    this.openGate();
  }
}

describe('Rotation pool: an unpublish while a dispatch reads a class', () => {
  it('checks the due bindings that are still mounted and none that went meanwhile', async () => {
    const harness = new DriverHarness({ startRotationLoop: false });
    const c = harness.container;
    const classes = new GatedClasses(c.get<SecretProviderClassSource>(SecretProviderClassSource));
    const reconciler = new RotationReconciler(
      harness.rotation,
      harness.registry,
      c.get(TargetLocks),
      c.get(RotateBinding),
      classes,
      c.get<PodSource>(PodSource),
      harness.clock,
      c.get<Scheduler>(Scheduler),
      c.get<Random>(Random),
      harness.logger,
    );
    try {
      harness.addClass();
      const [gone, stays] = [harness.addPod({ name: 'gone' }), harness.addPod({ name: 'stays' })];
      await harness.publish(gone);
      await harness.publish(stays);
      harness.store.rotate('db-password');
      harness.clock.advance(harness.rotation.intervalMs);

      const pass = reconciler.runDueChecks();
      await classes.reached;
      await harness.unpublish(gone.target);
      classes.open();
      await pass;
      await harness.cluster.whenIdle();

      expect(harness.logger.lines.filter((line) => line.startsWith('error')), 'errors logged').to.deep.equal([]);
      expect(await harness.mountedText(stays.target), 'the mount still there was checked').to.deep.equal({ 'db-password': 'db-password-v2' });
      expect(harness.exists(gone.target)).to.equal(false);
    } finally {
      await reconciler.stop();
      await harness.stop();
    }
  });
});

describe('Rotation pool: a target kubelet holds when it falls due', () => {
  it('is checked once kubelet lets go, not before and not twice, then on its interval again', async () => {
    const harness = new DriverHarness();
    try {
      harness.addClass();
      const pod = harness.addPod();
      await harness.publish(pod);
      const locks = harness.container.get(TargetLocks);
      let letGo!: () => void;
      const kubeletCall = locks.run(pod.target, () => new Promise<void>((resolve) => (letGo = resolve)));
      const calls = harness.provider.calls;

      await harness.advance(harness.rotation.intervalMs * 2);
      expect(harness.provider.calls, 'checked while kubelet held the target').to.equal(calls);

      letGo();
      await kubeletCall;
      await harness.advance(0);
      expect(harness.provider.calls, 'checked once kubelet let go').to.equal(calls + 1);
      await harness.advance(harness.rotation.intervalMs - 1);
      expect(harness.provider.calls, 'not checked again before its interval').to.equal(calls + 1);
      await harness.advance(1);
      expect(harness.provider.calls, 'checked again one interval later').to.equal(calls + 2);
    } finally {
      await harness.stop();
    }
  });
});
