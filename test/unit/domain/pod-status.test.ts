import { expect } from 'chai';
import fc from 'fast-check';
import { MessageCap, truncationMarker } from '../../../src/domain/bounded-text.js';
import { podStatusName, reportAfterCheck, type CheckFinding, type RotationReport } from '../../../src/domain/pod-status.js';

const NOW = 1_000_000;
const NEXT = 1_120_000;

describe('podStatusName', () => {
  it('is <pod>-<namespace>-<class>, the name upstream gives the object', () => {
    expect(podStatusName('web-0', 'shop', 'db')).to.equal('web-0-shop-db');
  });
});

describe('reportAfterCheck', () => {
  const cases: { name: string; previous: RotationReport; finding: CheckFinding; expected: RotationReport | undefined }[] = [
    { name: 'a change records its time and the next check', previous: {}, finding: { kind: 'changed' }, expected: { lastRotationTime: NOW, nextRotationTime: NEXT } },
    {
      name: 'a change clears an earlier error',
      previous: { lastRotationTime: 5, lastRotationError: 'boom', nextRotationTime: 7 },
      finding: { kind: 'changed' },
      expected: { lastRotationTime: NOW, nextRotationTime: NEXT },
    },
    { name: 'nothing changed and no error: no write', previous: { lastRotationTime: 5, nextRotationTime: 7 }, finding: { kind: 'unchanged' }, expected: undefined },
    {
      name: 'nothing changed after an error: the error is cleared, the last rotation kept',
      previous: { lastRotationTime: 5, lastRotationError: 'boom', nextRotationTime: 7 },
      finding: { kind: 'unchanged' },
      expected: { lastRotationTime: 5, nextRotationTime: NEXT },
    },
    {
      name: 'a first failure is written with the retry time',
      previous: { lastRotationTime: 5, nextRotationTime: 7 },
      finding: { kind: 'failed', reason: 'provider unavailable' },
      expected: { lastRotationTime: 5, lastRotationError: 'provider unavailable', nextRotationTime: NEXT },
    },
    { name: 'the same failure again: no write', previous: { lastRotationError: 'boom', nextRotationTime: 7 }, finding: { kind: 'failed', reason: 'boom' }, expected: undefined },
    {
      name: 'a different failure is written',
      previous: { lastRotationError: 'boom', nextRotationTime: 7 },
      finding: { kind: 'failed', reason: 'bang' },
      expected: { lastRotationError: 'bang', nextRotationTime: NEXT },
    },
  ];
  for (const { name, previous, finding, expected } of cases) {
    it(name, () => {
      expect(reportAfterCheck(previous, finding, NOW, NEXT)).to.deep.equal(expected);
    });
  }

  const finding: fc.Arbitrary<CheckFinding> = fc.oneof(
    fc.constant<CheckFinding>({ kind: 'changed' }),
    fc.constant<CheckFinding>({ kind: 'unchanged' }),
    fc.constantFrom('a', 'b').map((reason): CheckFinding => ({ kind: 'failed', reason })),
  );

  it('writes only when something an operator would see changed, and the stored report always tells the last outcome', () => {
    fc.assert(
      fc.property(fc.array(finding, { maxLength: 30 }), (findings) => {
        let stored: RotationReport = {};
        let writes = 0;
        let transitions = 0;
        let previous: CheckFinding | undefined;
        findings.forEach((current, index) => {
          const next = reportAfterCheck(stored, current, index * 10, index * 10 + 5);
          if (next !== undefined) {
            stored = next;
            writes += 1;
          }
          const errorBefore = previous?.kind === 'failed' ? previous.reason : undefined;
          const errorAfter = current.kind === 'failed' ? current.reason : undefined;
          if (current.kind === 'changed' || errorBefore !== errorAfter) transitions += 1;
          expect(stored.lastRotationError).to.equal(errorAfter);
          previous = current;
        });
        expect(writes).to.equal(transitions);
      }),
    );
  });

  describe('a failure reason of a megabyte (a provider error code)', () => {
    const reason = `provider "vault" failed to mount: ${'E'.repeat(1_000_000)}`;

    it(`is recorded cut to ${MessageCap.podStatus} bytes, ending with the marker`, () => {
      const report = reportAfterCheck({}, { kind: 'failed', reason }, NOW, NEXT)!;
      expect(Buffer.byteLength(report.lastRotationError!)).to.be.at.most(MessageCap.podStatus);
      expect(report.lastRotationError).to.match(/^provider "vault" failed to mount: E+… \(truncated, \d+ bytes\)$/);
      expect(report.lastRotationError!.endsWith(truncationMarker(Buffer.byteLength(reason)))).to.equal(true);
    });

    it('is not written again when the same failure repeats', () => {
      const first = reportAfterCheck({}, { kind: 'failed', reason }, NOW, NEXT)!;
      expect(reportAfterCheck(first, { kind: 'failed', reason }, NOW + 1, NEXT + 1)).to.equal(undefined);
    });
  });
});
