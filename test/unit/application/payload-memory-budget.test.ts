import { expect } from 'chai';
import { ManualClock } from '../../../src/adapters/clock/manual-clock.js';
import { PayloadMemoryBudget } from '../../../src/application/payload-memory-budget.js';
import { DomainError } from '../../../src/domain/errors.js';
import { KUBELET_ROOM_WAIT_MS, MIN_EXPECTED_ANSWER_BYTES } from '../../../src/domain/payload-memory.js';
import { expectRejection } from '../../support/driver-assertions.js';

const MiB = 2 ** 20;

const clock = new ManualClock();

/** A budget of four largest answers (each held twice while received): 32 MiB, answers up to 4 MiB. */
function budget(): { budget: PayloadMemoryBudget; reclaims: () => number } {
  let reclaimed = 0;
  const created = new PayloadMemoryBudget({ budgetBytes: 32 * MiB, maxAnswerBytes: 4 * MiB }, { reclaim: () => void reclaimed++ }, clock);
  return { budget: created, reclaims: () => reclaimed };
}

async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe('PayloadMemoryBudget', () => {
  it('reserves twice the largest answer for a class never fetched, and gives it back on release', async () => {
    const { budget: memory } = budget();
    const lease = await memory.admit('ns/a', 'kubelet');
    expect(memory.reserved).to.equal(8 * MiB);
    lease.release();
    lease.release();
    expect(memory.reserved).to.equal(0);
  });

  it('lets a kubelet call wait for room when the budget is full, and refuses it with PayloadMemoryExhausted when none came in time', async () => {
    const { budget: memory } = budget();
    for (let i = 0; i < 4; i++) await memory.admit(`ns/c${i}`, 'kubelet');

    const refused = memory.admit('ns/other', 'kubelet');
    await settle();
    clock.advance(KUBELET_ROOM_WAIT_MS);

    const error = await expectRejection(refused, 'PayloadMemoryExhausted');
    expect(error.message).to.contain('hold 32.0 MiB of the 32.0 MiB payload memory budget');
    expect(memory.reserved).to.equal(32 * MiB);
  });

  it('grants a waiting kubelet call the room given back, ahead of rotation calls that waited longer', async () => {
    const { budget: memory } = budget();
    const held = [await memory.admit('ns/a', 'rotation'), await memory.admit('ns/b', 'kubelet'), await memory.admit('ns/c', 'kubelet'), await memory.admit('ns/d', 'kubelet')];
    const order: string[] = [];
    void memory.admit('ns/r', 'rotation').then(() => order.push('rotation'));
    void memory.admit('ns/k', 'kubelet').then(() => order.push('kubelet'));
    await settle();

    held[1]!.release();
    await settle();

    expect(order).to.deep.equal(['kubelet']);
    held[2]!.release();
    await settle();
    expect(order).to.deep.equal(['kubelet', 'rotation']);
  });

  it('reserves from the class\'s last answer size once it is known', async () => {
    const { budget: memory } = budget();
    const first = await memory.admit('ns/small', 'kubelet');
    first.answered(1000);
    first.release();

    await memory.admit('ns/small', 'kubelet');

    expect(memory.reserved).to.equal(2 * MIN_EXPECTED_ANSWER_BYTES);
  });

  it('queues rotation calls beyond half the budget and grants them in order as room comes back', async () => {
    const { budget: memory } = budget();
    const first = await memory.admit('ns/a', 'rotation');
    const second = await memory.admit('ns/b', 'rotation');
    const order: string[] = [];
    const third = memory.admit('ns/c', 'rotation').then((lease) => (order.push('c'), lease));
    const fourth = memory.admit('ns/d', 'rotation').then((lease) => (order.push('d'), lease));
    await settle();
    expect(order, 'the rotation half (16 MiB) is held').to.deep.equal([]);

    first.release();
    await settle();
    expect(order).to.deep.equal(['c']);
    second.release();
    await settle();
    expect(order).to.deep.equal(['c', 'd']);
    (await third).release();
    (await fourth).release();
    expect(memory.reserved).to.equal(0);
  });

  it('admits kubelet calls into the half rotation leaves free while rotation calls wait', async () => {
    const { budget: memory } = budget();
    await memory.admit('ns/a', 'rotation');
    await memory.admit('ns/b', 'rotation');
    let granted = false;
    void memory.admit('ns/c', 'rotation').then(() => (granted = true));

    await memory.admit('ns/k1', 'kubelet');
    await memory.admit('ns/k2', 'kubelet');

    expect(memory.reserved, 'admitted at once').to.equal(32 * MiB);
    expect(granted).to.equal(false);
  });

  it('lets a waiting rotation call give up: it leaves the queue and rejects with the reason', async () => {
    const { budget: memory } = budget();
    const held = [await memory.admit('ns/a', 'rotation'), await memory.admit('ns/b', 'rotation')];
    const controller = new AbortController();
    const waiting = memory.admit('ns/c', 'rotation', controller.signal);

    controller.abort(new DomainError('Cancelled', 'given up'));

    await expectRejection(waiting, 'Cancelled');
    for (const lease of held) lease.release();
    expect(memory.reserved, 'the given-up call took nothing').to.equal(0);
  });

  it('asks the runtime to free memory once a quarter of the budget was written and released', async () => {
    const { budget: memory, reclaims } = budget();
    for (let i = 0; i < 3; i++) {
      const lease = await memory.admit('ns/a', 'kubelet');
      lease.answered(1 * MiB);
      lease.release();
    }
    expect(reclaims(), '6 MiB released: below a quarter (8 MiB)').to.equal(0);
    const lease = await memory.admit('ns/a', 'kubelet');
    lease.answered(1 * MiB);
    lease.release();
    expect(reclaims()).to.equal(1);
  });
});
