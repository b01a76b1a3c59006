import { expect } from 'chai';
import fc from 'fast-check';
import { excerpt, EXCERPT_BYTES, MIN_CAP_BYTES, truncateText, truncationMarker, utf8Length } from '../../../src/domain/bounded-text.js';

const bytesOf = (text: string): number => new TextEncoder().encode(text).length;

/** True when `text` holds a surrogate that is not half of a pair (what a bad cut would leave). */
function hasLoneSurrogate(text: string): boolean {
  return /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(text);
}

/** Text of any kind: ASCII, two- and three-byte characters, astral characters (surrogate pairs), lone surrogates. */
const anyText = fc.oneof(
  fc.string({ unit: 'grapheme', maxLength: 400 }),
  fc.string({ unit: 'binary', maxLength: 400 }),
  fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '\uD800', '\uDC00'), maxLength: 400 }),
);
const cap = fc.integer({ min: MIN_CAP_BYTES, max: 600 });

describe('domain/bounded-text', () => {
  describe('truncateText', () => {
    it('is never longer than the cap, in UTF-8 bytes (property)', () => {
      fc.assert(fc.property(anyText, cap, (text, max) => {
        expect(bytesOf(truncateText(text, max))).to.be.at.most(max);
      }), { numRuns: 500 });
    });

    it('returns the text itself exactly when it fits, else a prefix followed by the marker of its length (property)', () => {
      fc.assert(fc.property(anyText, cap, (text, max) => {
        const result = truncateText(text, max);
        if (bytesOf(text) <= max) {
          expect(result).to.equal(text);
          return;
        }
        const marker = truncationMarker(bytesOf(text));
        expect(result.endsWith(marker), result).to.equal(true);
        expect(text.startsWith(result.slice(0, -marker.length))).to.equal(true);
      }), { numRuns: 500 });
    });

    it('keeps the longest prefix that fits: the next character would not (property)', () => {
      fc.assert(fc.property(anyText, cap, (text, max) => {
        const result = truncateText(text, max);
        if (result === text) return;
        const prefix = result.slice(0, -truncationMarker(bytesOf(text)).length);
        const next = String.fromCodePoint(text.codePointAt(prefix.length)!);
        expect(bytesOf(prefix + next) + bytesOf(truncationMarker(bytesOf(text)))).to.be.above(max);
      }), { numRuns: 500 });
    });

    it('never cuts a surrogate pair or a multi-byte character in two (property)', () => {
      const wellFormed = fc.string({ unit: fc.constantFrom('a', 'é', '€', '😀', '𝄞'), minLength: 1, maxLength: 400 });
      fc.assert(fc.property(wellFormed, cap, (text, max) => {
        const result = truncateText(text, max);
        expect(hasLoneSurrogate(result), JSON.stringify(result)).to.equal(false);
        // Encoding and decoding again gives the same text only when no character was cut.
        expect(new TextDecoder().decode(new TextEncoder().encode(result))).to.equal(result);
      }), { numRuns: 500 });
    });

    it('names the original length in bytes in the marker', () => {
      const code = 'E'.repeat(1_000_000);
      const result = truncateText(code, 1024);
      expect(result).to.equal(`${'E'.repeat(1024 - bytesOf(truncationMarker(1_000_000)))}… (truncated, 1000000 bytes)`);
    });

    it('cuts astral characters whole', () => {
      const result = truncateText('😀'.repeat(100), 64);
      expect(result).to.match(/^(😀)+… \(truncated, 400 bytes\)$/u);
      expect(bytesOf(result)).to.be.at.most(64);
    });

    for (const bad of [0, 10, MIN_CAP_BYTES - 1, 100.5, Number.NaN]) {
      it(`refuses a cap of ${bad}, which could not hold the marker`, () => {
        expect(() => truncateText('x', bad)).to.throw(RangeError);
      });
    }
  });

  describe('utf8Length', () => {
    it('counts what TextEncoder writes, lone surrogates as U+FFFD (property)', () => {
      fc.assert(fc.property(anyText, (text) => {
        expect(utf8Length(text)).to.equal(bytesOf(text));
      }), { numRuns: 500 });
    });
  });

  describe('excerpt', () => {
    it('is at most EXCERPT_BYTES, on one line, without control characters (property)', () => {
      fc.assert(fc.property(anyText, (text) => {
        const shown = excerpt(text);
        expect(bytesOf(shown)).to.be.at.most(EXCERPT_BYTES);
        expect(shown).not.to.match(/[\u0000-\u001f\u007f]/);
      }), { numRuns: 500 });
    });

    it('shows a short printable value as it is', () => {
      expect(excerpt('secret/db-password')).to.equal('secret/db-password');
    });
  });
});
