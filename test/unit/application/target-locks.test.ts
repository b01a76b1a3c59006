import { expect } from 'chai';
import { TargetLocks } from '../../../src/application/target-locks.js';
import { expectRejection } from '../../support/driver-assertions.js';

/** A promise the test resolves when it wants. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((done) => (resolve = done));
  return { promise, resolve };
}

describe('TargetLocks', () => {
  let locks: TargetLocks;

  beforeEach(() => {
    locks = new TargetLocks();
  });

  it('runs an operation and returns its result', async () => {
    expect(await locks.run('/t', async () => 42)).to.equal(42);
  });

  it('refuses a second operation on a held target with OperationPending, without running it', async () => {
    const gate = deferred();
    const first = locks.run('/t', () => gate.promise);
    let ran = false;

    await expectRejection(locks.run('/t', async () => (ran = true)), 'OperationPending');

    expect(ran).to.equal(false);
    gate.resolve();
    await first;
  });

  it('lets operations on different targets run at the same time', async () => {
    const gate = deferred();
    const first = locks.run('/a', () => gate.promise);

    expect(await locks.run('/b', async () => 'b')).to.equal('b');

    gate.resolve();
    await first;
  });

  it('releases the target when the operation fails', async () => {
    const failing = locks.run('/t', async () => {
      throw new Error('boom');
    });
    await failing.then(
      () => expect.fail('expected a rejection'),
      (error: Error) => expect(error.message).to.equal('boom'),
    );

    expect(await locks.run('/t', async () => 'again')).to.equal('again');
  });

  it('tryRun skips a held target and resolves undefined', async () => {
    const gate = deferred();
    const first = locks.run('/t', () => gate.promise);
    let ran = false;

    expect(await locks.tryRun('/t', async () => (ran = true))).to.equal(undefined);

    expect(ran).to.equal(false);
    gate.resolve();
    await first;
  });

  it('tryRun holds a free target like run does', async () => {
    const gate = deferred();
    const held = locks.tryRun('/t', () => gate.promise);

    await expectRejection(locks.run('/t', async () => undefined), 'OperationPending');

    gate.resolve();
    await held;
    expect(await locks.tryRun('/t', async () => 'free')).to.equal('free');
  });

  it('lets a kubelet operation cancel a rotation check of the target, wait for it to stop, then run', async () => {
    const order: string[] = [];
    const controller = new AbortController();
    const stopped = new Promise<void>((resolve) => controller.signal.addEventListener('abort', () => resolve()));
    const check = locks.tryRun(
      '/t',
      async () => {
        await stopped;
        order.push(`check stopped: ${(controller.signal.reason as Error).message}`);
      },
      controller,
    );
    expect(locks.heldByRotation('/t')).to.equal(true);

    await locks.runCancellingRotation('/t', async () => void order.push('unpublish'));
    await check;

    expect(order).to.deep.equal(['check stopped: the rotation check of target "/t" was given up for an unpublish', 'unpublish']);
    expect(controller.signal.reason).to.have.property('code', 'Cancelled');
    expect(locks.isHeld('/t')).to.equal(false);
  });

  it('does not cancel or wait behind another kubelet operation: that one still answers OperationPending', async () => {
    const gate = deferred();
    const first = locks.run('/t', () => gate.promise);

    await expectRejection(locks.runCancellingRotation('/t', async () => undefined), 'OperationPending');

    expect(locks.isHeld('/t')).to.equal(true);
    gate.resolve();
    await first;
  });
});
