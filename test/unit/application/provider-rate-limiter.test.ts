import { expect } from 'chai';
import { ManualClock } from '../../../src/adapters/clock/manual-clock.js';
import { ProviderRateLimiter, type CallOrigin } from '../../../src/application/provider-rate-limiter.js';

/** Lets every resolved promise run its continuation. */
const settle = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('ProviderRateLimiter (--provider-qps, --provider-burst)', () => {
  let clock: ManualClock;
  const start = (): number => clock.now();
  beforeEach(() => {
    clock = new ManualClock();
  });

  /** Asks for `n` tokens for `origin` and records when (relative to now) each was granted. */
  function ask(limiter: ProviderRateLimiter, n: number, origin: CallOrigin, provider = 'vault'): number[] {
    const t0 = start();
    const granted: number[] = [];
    for (let i = 0; i < n; i++) void limiter.acquire(provider, origin).then(() => granted.push(clock.now() - t0));
    return granted;
  }

  async function runFor(ms: number, step = 50): Promise<void> {
    for (let elapsed = 0; elapsed < ms; elapsed += step) {
      await settle();
      clock.advance(step);
    }
    await settle();
  }

  it('lets everything through at once with qps 0 (the default)', async () => {
    const limiter = new ProviderRateLimiter({ qps: 0, burst: 1 }, clock, clock);
    const granted = ask(limiter, 50, 'rotation');
    await settle();
    expect(granted).to.have.length(50);
    expect(clock.pendingTimers).to.equal(0);
  });

  it('spaces rotation calls 1/qps apart after the burst, in the order they asked', async () => {
    const limiter = new ProviderRateLimiter({ qps: 4, burst: 2 }, clock, clock);
    const granted = ask(limiter, 6, 'rotation');
    await runFor(2_000);
    expect(granted).to.deep.equal([0, 0, 250, 500, 750, 1000]);
  });

  it('keeps one bucket per provider', async () => {
    const limiter = new ProviderRateLimiter({ qps: 1, burst: 1 }, clock, clock);
    const vault = ask(limiter, 2, 'rotation', 'vault');
    const azure = ask(limiter, 2, 'rotation', 'azure');
    await runFor(1_000);
    expect(vault).to.deep.equal([0, 1000]);
    expect(azure).to.deep.equal([0, 1000]);
  });

  it('never makes a kubelet call wait, even behind a queue of rotation calls', async () => {
    const limiter = new ProviderRateLimiter({ qps: 1, burst: 1 }, clock, clock);
    const rotation = ask(limiter, 5, 'rotation');
    await settle();
    const kubelet = ask(limiter, 3, 'kubelet');
    await settle();
    expect(kubelet).to.deep.equal([0, 0, 0]);
    expect(rotation).to.deep.equal([0]);
    expect(limiter.waiting).to.equal(4);
  });

  it('tryAcquire lets a rotation call go only when a token is there and nobody queues before it', async () => {
    const limiter = new ProviderRateLimiter({ qps: 1, burst: 1 }, clock, clock);
    expect(limiter.tryAcquire('vault', 'rotation')).to.equal(true);
    expect(limiter.tryAcquire('vault', 'rotation')).to.equal(false);
    const queued = ask(limiter, 1, 'rotation');
    clock.advance(999);
    await settle();
    expect(queued).to.deep.equal([]);
    expect(limiter.tryAcquire('vault', 'kubelet'), 'kubelet always may (there was no token to spend)').to.equal(true);
    clock.advance(1);
    expect(limiter.tryAcquire('vault', 'rotation'), 'the queued call took the token').to.equal(false);
    await settle();
    expect(queued).to.deep.equal([1000]);
  });

  it('charges kubelet calls the tokens there are, so rotation slows down while pods start', async () => {
    const limiter = new ProviderRateLimiter({ qps: 1, burst: 2 }, clock, clock);
    const kubelet = ask(limiter, 2, 'kubelet');
    const rotation = ask(limiter, 2, 'rotation');
    await runFor(2_000);
    expect(kubelet).to.deep.equal([0, 0]);
    expect(rotation).to.deep.equal([1000, 2000]);
  });

  it('lets a queued rotation call give up: it leaves the queue, rejects with the reason, and the next one moves up', async () => {
    const limiter = new ProviderRateLimiter({ qps: 1, burst: 1 }, clock, clock);
    await limiter.acquire('vault', 'rotation');
    const controller = new AbortController();
    const givenUp = limiter.acquire('vault', 'rotation', controller.signal);
    const granted = ask(limiter, 1, 'rotation');
    expect(limiter.waiting).to.equal(2);

    controller.abort(new Error('unpublished'));

    await givenUp.then(
      () => expect.fail('expected a rejection'),
      (error: Error) => expect(error.message).to.equal('unpublished'),
    );
    expect(limiter.waiting).to.equal(1);
    await runFor(1_000);
    expect(granted, 'the next call got the first token').to.deep.equal([1_000]);
  });
});
