import { expect } from 'chai';
import fc from 'fast-check';
import { DER_TAG, encodeDer, formatOid, readDerElement, readDerElements } from '../../../src/domain/der.js';
import { DomainError } from '../../../src/domain/errors.js';

/** ASN.1 NULL: an element with empty content, not one the domain itself needs. */
const NULL_TAG = 0x05;

function expectMalformed(bytes: number[], reason: RegExp): void {
  expect(() => readDerElement(Uint8Array.from(bytes)))
    .to.throw(DomainError, reason)
    .with.property('code', 'InvalidTlsData');
}

describe('DER', () => {
  it('uses the one-byte short form for lengths below 128', () => {
    expect([...encodeDer(DER_TAG.INTEGER, Uint8Array.of(5))]).to.deep.equal([0x02, 0x01, 0x05]);
    expect(encodeDer(DER_TAG.OCTET_STRING, new Uint8Array(127))).to.have.length(129);
  });

  it('uses the minimal long form for lengths of 128 and more', () => {
    expect([...encodeDer(DER_TAG.OCTET_STRING, new Uint8Array(128)).subarray(0, 3)]).to.deep.equal([0x04, 0x81, 0x80]);
    expect([...encodeDer(DER_TAG.OCTET_STRING, new Uint8Array(256)).subarray(0, 4)]).to.deep.equal([0x04, 0x82, 0x01, 0x00]);
    expect([...encodeDer(DER_TAG.OCTET_STRING, new Uint8Array(70_000)).subarray(0, 5)]).to.deep.equal([0x04, 0x83, 0x01, 0x11, 0x70]);
  });

  it('concatenates all content parts of an element in order', () => {
    const sequence = encodeDer(DER_TAG.SEQUENCE, encodeDer(DER_TAG.INTEGER, Uint8Array.of(1)), encodeDer(NULL_TAG));
    expect([...sequence]).to.deep.equal([0x30, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00]);
  });

  it('reads back what it writes: tag, content and the whole encoding', () => {
    fc.assert(
      fc.property(fc.constantFrom(...Object.values(DER_TAG)), fc.uint8Array({ maxLength: 600 }), (tag, content) => {
        const encoded = encodeDer(tag, content);
        const element = readDerElement(encoded);
        expect(element.tag).to.equal(tag);
        expect(element.content).to.deep.equal(content);
        expect(element.encoded).to.deep.equal(encoded);
      }),
    );
  });

  it('reads consecutive elements that fill a SEQUENCE content', () => {
    const first = encodeDer(DER_TAG.INTEGER, Uint8Array.of(0));
    const second = encodeDer(DER_TAG.OCTET_STRING, new Uint8Array(200).fill(7));
    const sequence = readDerElement(encodeDer(DER_TAG.SEQUENCE, first, second));
    const items = readDerElements(sequence.content);
    expect(items.map((item) => item.tag)).to.deep.equal([DER_TAG.INTEGER, DER_TAG.OCTET_STRING]);
    expect(items[1]!.content).to.have.length(200);
  });

  it('rejects an element whose content is shorter than its length says', () => {
    expectMalformed([0x04, 0x05, 0x01, 0x02], /truncated/);
    expectMalformed([0x04, 0x82, 0x01], /truncated/);
    expectMalformed([0x04], /truncated/);
  });

  it('rejects indefinite lengths, which BER allows but DER does not', () => {
    expectMalformed([0x30, 0x80, 0x00, 0x00], /indefinite/);
  });

  it('rejects lengths of more than four bytes', () => {
    expectMalformed([0x04, 0x85, 0x01, 0x00, 0x00, 0x00, 0x00], /too large/);
  });

  it('rejects multi-byte tags, which no key structure uses', () => {
    expectMalformed([0x1f, 0x81, 0x01, 0x00], /multi-byte tags/);
  });

  it('rejects bytes after a single element', () => {
    expectMalformed([0x02, 0x01, 0x00, 0xff], /unexpected bytes after/);
  });

  it('formats OBJECT IDENTIFIER content in dotted form, including multi-byte arcs', () => {
    expect(formatOid(Uint8Array.of(0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01))).to.equal('1.2.840.113549.1.1.1');
    expect(formatOid(Uint8Array.of(0x2b, 0x65, 0x70))).to.equal('1.3.101.112');
    expect(formatOid(Uint8Array.of(0x88, 0x37, 0x01))).to.equal('2.999.1');
    expect(formatOid(new Uint8Array(0))).to.equal('(empty)');
  });
});
