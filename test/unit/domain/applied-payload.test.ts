import { expect } from 'chai';
import { alreadyApplied, sameAsApplied, type AppliedPayload } from '../../../src/domain/applied-payload.js';

describe('alreadyApplied (an unchanged check has nothing to do)', () => {
  const last: AppliedPayload = { fingerprint: 'f1', version: '..v1' };
  const cases: ReadonlyArray<readonly [string, AppliedPayload | undefined, string | undefined, string | undefined, boolean]> = [
    ['the same payload, ..data still on its version', last, 'f1', '..v1', true],
    ['another payload or ownership', last, 'f2', '..v1', false],
    ['..data moved to another version', last, 'f1', '..v2', false],
    ['..data missing (another volume, or none mounted)', last, 'f1', undefined, false],
    ['nothing remembered (a restarted driver)', undefined, 'f1', '..v1', false],
    ['a payload without a fingerprint (left to validation)', last, undefined, '..v1', false],
  ];
  for (const [what, remembered, fingerprint, shown, expected] of cases) {
    it(`${expected ? 'skips' : 'takes the full path'}: ${what}`, () => {
      expect(alreadyApplied(remembered, fingerprint, shown)).to.equal(expected);
      if (expected) expect(sameAsApplied(remembered, fingerprint)).to.equal(true);
    });
  }
});
