import { expect } from 'chai';
import fc from 'fast-check';
import { fullBucket, isUnlimited, refill, takeToken, type RateLimit, type TokenBucket } from '../../../src/domain/token-bucket.js';

describe('domain/token-bucket', () => {
  it('is unlimited at qps 0 (or below): every take succeeds at once', () => {
    for (const qps of [0, -1]) {
      const limit = { qps, burst: 1 };
      expect(isUnlimited(limit)).to.equal(true);
      let bucket = fullBucket(limit, 0);
      for (let i = 0; i < 100; i++) {
        const result = takeToken(bucket, limit, 0);
        expect(result).to.include({ taken: true, waitMs: 0 });
        bucket = result.bucket;
      }
    }
  });

  it('starts full: burst calls at once, then one every 1/qps seconds', () => {
    const limit = { qps: 2, burst: 3 };
    let bucket = fullBucket(limit, 0);
    for (let i = 0; i < 3; i++) {
      const result = takeToken(bucket, limit, 0);
      expect(result.taken, `call ${i}`).to.equal(true);
      bucket = result.bucket;
    }
    const refused = takeToken(bucket, limit, 0);
    expect(refused).to.include({ taken: false, waitMs: 500 });
    expect(takeToken(refused.bucket, limit, 499).taken).to.equal(false);
    expect(takeToken(refused.bucket, limit, 500).taken).to.equal(true);
  });

  it('treats a burst below 1 as 1', () => {
    const limit = { qps: 1, burst: 0 };
    const first = takeToken(fullBucket(limit, 0), limit, 0);
    expect(first.taken).to.equal(true);
    expect(takeToken(first.bucket, limit, 0)).to.include({ taken: false, waitMs: 1000 });
  });

  it('never holds more than burst tokens, however long it rests', () => {
    const limit = { qps: 10, burst: 4 };
    const rested = refill({ tokens: 0, at: 0 }, limit, 3_600_000);
    expect(rested.tokens).to.equal(4);
    expect(refill(rested, limit, 0)).to.equal(rested); // time never runs backwards
  });

  it('lets through at most burst + qps x elapsed calls in any run, and a waiter that waits waitMs gets its token', () => {
    const limits: fc.Arbitrary<RateLimit> = fc.record({
      qps: fc.oneof(fc.constantFrom(0.3, 1, 2, 3, 7, 50), fc.double({ min: 0.05, max: 100, noNaN: true })),
      burst: fc.integer({ min: 1, max: 10 }),
    });
    fc.assert(
      fc.property(limits, fc.array(fc.integer({ min: 0, max: 2_000 }), { minLength: 1, maxLength: 60 }), (limit, gaps) => {
        let now = 0;
        let bucket: TokenBucket = fullBucket(limit, now);
        let taken = 0;
        for (const gap of gaps) {
          now += gap;
          const result = takeToken(bucket, limit, now);
          bucket = result.bucket;
          if (result.taken) taken += 1;
          else {
            expect(result.waitMs).to.be.greaterThan(0);
            const later = takeToken(bucket, limit, now + result.waitMs);
            expect(later.taken, `after waiting ${result.waitMs} ms`).to.equal(true);
          }
          expect(taken).to.be.at.most(Math.max(1, limit.burst) + (limit.qps * now) / 1000 + 1e-6);
        }
      }),
    );
  });
});
