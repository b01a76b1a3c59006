import { expect } from 'chai';
import fc from 'fast-check';
import { decodeBase64, encodeBase64 } from '../../../src/domain/base64.js';
import { DomainError } from '../../../src/domain/errors.js';

function expectInvalidBase64(text: string): void {
  expect(() => decodeBase64(text))
    .to.throw(DomainError, /^invalid base64: /)
    .with.property('code', 'InvalidTlsData');
}

describe('base64', () => {
  it('encodes like the standard padded alphabet (RFC 4648 test vectors)', () => {
    const vectors: Array<[string, string]> = [
      ['', ''],
      ['f', 'Zg=='],
      ['fo', 'Zm8='],
      ['foo', 'Zm9v'],
      ['foob', 'Zm9vYg=='],
      ['fooba', 'Zm9vYmE='],
      ['foobar', 'Zm9vYmFy'],
    ];
    for (const [plain, encoded] of vectors) {
      expect(encodeBase64(new TextEncoder().encode(plain))).to.equal(encoded);
      expect(new TextDecoder().decode(decodeBase64(encoded))).to.equal(plain);
    }
  });

  it('encodes every byte sequence exactly as Node does and decodes it back', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const encoded = encodeBase64(bytes);
        expect(encoded).to.equal(Buffer.from(bytes).toString('base64'));
        expect(decodeBase64(encoded)).to.deep.equal(bytes);
      }),
    );
  });

  it('ignores line breaks, spaces and tabs anywhere in the text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.array(fc.constantFrom(' ', '\t', '\r', '\n', '\r\n')), (bytes, gaps) => {
        const encoded = encodeBase64(bytes);
        let spaced = encoded;
        gaps.forEach((gap, index) => {
          const at = index % (spaced.length + 1);
          spaced = spaced.slice(0, at) + gap + spaced.slice(at);
        });
        expect(decodeBase64(spaced)).to.deep.equal(bytes);
      }),
    );
  });

  it('rejects characters outside the standard alphabet, including the URL-safe ones', () => {
    for (const text of ['Zm9v!A==', 'Zm9-', 'Zm9_', 'Zm9vYmé=']) expectInvalidBase64(text);
  });

  it('rejects text whose length is not a multiple of four (missing padding)', () => {
    expectInvalidBase64('Zm9vYg');
    expectInvalidBase64('Z');
  });

  it('rejects padding that is not at the very end or is longer than two characters', () => {
    for (const text of ['Zg==Zm9v', 'Z===', '====', 'Zm=v']) expectInvalidBase64(text);
  });

  it('never echoes the offending input in its error message', () => {
    expect(() => decodeBase64('c2VjcmV0!!!!')).to.throw(DomainError).that.satisfies((error: Error) => !error.message.includes('c2VjcmV0'));
  });
});
