import { expect } from 'chai';
import fc from 'fast-check';
import { formatDuration, parseDuration } from '../../../src/domain/duration.js';
import { DomainError } from '../../../src/domain/errors.js';
import { codeOf } from '../../support/domain-error-code.js';


/** Go's largest Duration, 2^63-1 ns, in milliseconds. */
const GO_MAX_MS = 9_223_372_036_854.775;

describe('domain/duration', () => {
  describe('parseDuration', () => {
    const cases: Array<[string, number]> = [
      ['0', 0],
      ['2m', 120_000],
      ['30s', 30_000],
      ['1h30m', 5_400_000],
      ['1h', 3_600_000],
      ['250ms', 250],
      ['1.5s', 1500],
      ['1.1s', 1100],
      ['2.3s', 2300],
      ['0.1s', 100],
      ['.5s', 500],
      ['1.s', 1000],
      ['1.5h', 5_400_000],
      ['1m0s', 60_000],
      ['1h2m3.004s', 3_723_004],
      ['2h45m30.5s', 9_930_500],
      ['1500us', 1.5],
      ['1500µs', 1.5],
      ['1000000ns', 1],
      ['1s500ms', 1500],
      ['0s', 0],
      ['000m', 0],
      ['-1m', -60_000],
      ['+5s', 5000],
      ['-1.5s', -1500],
      [' 2m ', 120_000],
    ];
    for (const [text, ms] of cases) {
      it(`parses "${text}" as ${ms} ms`, () => {
        expect(parseDuration(text)).to.equal(ms);
      });
    }

    const invalid: Array<[string, string]> = [
      ['empty text', ''],
      ['a number without unit', '1'],
      ['a unit without number', 'm'],
      ['an unknown unit', '1x'],
      ['days', '1d'],
      ['an upper-case unit', '1S'],
      ['a space between number and unit', '1 m'],
      ['a sign inside', '1m-1s'],
      ['two signs', '--1s'],
      ['two dots', '1.2.3s'],
      ['a lone dot', '.s'],
      ['words', 'two minutes'],
      ['an exponent', '1e3s'],
      ['a value beyond Go\'s largest duration', '2562048h'],
      ['a value with hundreds of digits', `${'9'.repeat(400)}h`],
    ];
    for (const [name, text] of invalid) {
      it(`rejects ${name} ("${text.slice(0, 20)}") with InvalidDuration`, () => {
        expect(codeOf(() => parseDuration(text))).to.equal('InvalidDuration');
      });
    }

    it('accepts the largest Go duration', () => {
      expect(parseDuration('2562047h')).to.equal(2_562_047 * 3_600_000);
    });

    it('names the bad text and the expected syntax in its message', () => {
      expect(() => parseDuration('5 minutes')).to.throw(DomainError, /"5 minutes".*30s/);
    });

    it('always returns a finite number of at most Go\'s range, or InvalidDuration (property)', () => {
      fc.assert(
        fc.property(fc.stringMatching(/^[+-]?([0-9]{0,22}(\.[0-9]{0,4})?(ns|us|ms|s|m|h|x)?){1,3}$/), (text) => {
          let ms: number;
          try {
            ms = parseDuration(text);
          } catch (error) {
            expect(error).to.be.instanceOf(DomainError);
            expect((error as DomainError).code).to.equal('InvalidDuration');
            return;
          }
          expect(Number.isFinite(ms)).to.equal(true);
          expect(Math.abs(ms)).to.be.at.most(GO_MAX_MS);
        }),
      );
    });

    it('sums the parts of a compound duration (property)', () => {
      fc.assert(
        fc.property(fc.nat(1000), fc.nat(59), fc.nat(59), fc.nat(999), (h, m, s, ms) => {
          expect(parseDuration(`${h}h${m}m${s}s${ms}ms`)).to.equal(h * 3_600_000 + m * 60_000 + s * 1000 + ms);
        }),
      );
    });
  });

  describe('formatDuration', () => {
    const cases: Array<[number, string]> = [
      [0, '0s'],
      [120_000, '2m0s'],
      [30_000, '30s'],
      [1500, '1.5s'],
      [250, '250ms'],
      [1, '1ms'],
      [1000, '1s'],
      [60_000, '1m0s'],
      [3_600_000, '1h0m0s'],
      [5_400_000, '1h30m0s'],
      [3_723_004, '1h2m3.004s'],
      [-60_000, '-1m0s'],
      [-250, '-250ms'],
      [90_061_000, '25h1m1s'],
    ];
    for (const [ms, text] of cases) {
      it(`formats ${ms} ms as "${text}" like Go`, () => {
        expect(formatDuration(ms)).to.equal(text);
      });
    }

    it('round-trips through parseDuration for whole milliseconds (property)', () => {
      fc.assert(
        fc.property(
          fc.oneof(fc.integer({ min: -10_000_000, max: 10_000_000 }), fc.integer({ min: -9_223_372_036_854, max: 9_223_372_036_854 })),
          (ms) => {
            expect(parseDuration(formatDuration(ms))).to.equal(ms);
          },
        ),
        { numRuns: 1000 },
      );
    });

    it('formats whole milliseconds with at most three decimals of seconds (property)', () => {
      fc.assert(
        fc.property(fc.integer({ min: 0, max: 1e12 }), (ms) => {
          expect(formatDuration(ms)).to.match(/^(\d+h)?(\d+m)?\d+(\.\d{1,3})?m?s$/);
        }),
      );
    });
  });
});
