import { expect } from 'chai';
import fc from 'fast-check';
import { DomainError } from '../../../src/domain/errors.js';
import { encodePem, parsePem } from '../../../src/domain/pem.js';

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

function expectInvalidPem(text: string, message: RegExp): void {
  expect(() => parsePem(text))
    .to.throw(DomainError, message)
    .with.property('code', 'InvalidTlsData');
}

describe('PEM', () => {
  it('parses every block in file order with its type and decoded body', () => {
    const text = '-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n-----BEGIN RSA PRIVATE KEY-----\nBAU=\n-----END RSA PRIVATE KEY-----\n';
    expect(parsePem(text)).to.deep.equal([
      { type: 'CERTIFICATE', bytes: bytes(1, 2, 3) },
      { type: 'RSA PRIVATE KEY', bytes: bytes(4, 5) },
    ]);
  });

  it('ignores text before, between and after blocks', () => {
    const text = 'Bag Attributes\n  localKeyID: 01\nsubject=/CN=example\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\ntrailing words\n';
    expect(parsePem(text)).to.deep.equal([{ type: 'CERTIFICATE', bytes: bytes(1, 2, 3) }]);
  });

  it('accepts CRLF line endings and a body split over several lines', () => {
    const text = '-----BEGIN CERTIFICATE-----\r\nAQ\r\nID\r\n-----END CERTIFICATE-----\r\n';
    expect(parsePem(text)).to.deep.equal([{ type: 'CERTIFICATE', bytes: bytes(1, 2, 3) }]);
  });

  it('finds no block in text without BEGIN lines', () => {
    expect(parsePem('')).to.deep.equal([]);
    expect(parsePem('just some text\n')).to.deep.equal([]);
  });

  it('rejects a block that never ends', () => {
    expectInvalidPem('-----BEGIN CERTIFICATE-----\nAQID\n', /PEM block "CERTIFICATE" has no END line/);
  });

  it('rejects a block interrupted by another BEGIN line', () => {
    const text = '-----BEGIN CERTIFICATE-----\nAQID\n-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n';
    expectInvalidPem(text, /has no END line/);
  });

  it('rejects a block closed by an END line of another type', () => {
    expectInvalidPem('-----BEGIN CERTIFICATE-----\nAQID\n-----END PRIVATE KEY-----\n', /closed by an END line of type "PRIVATE KEY"/);
  });

  it('rejects a body that is not base64, such as encrypted-key headers', () => {
    const text = '-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\n\nAQID\n-----END RSA PRIVATE KEY-----\n';
    expectInvalidPem(text, /PEM block "RSA PRIVATE KEY" has an invalid body: invalid base64/);
  });

  it('encodes a block with 64-character body lines and a final line break', () => {
    const text = encodePem({ type: 'CERTIFICATE', bytes: new Uint8Array(100) });
    const lines = text.split('\n');
    expect(lines[0]).to.equal('-----BEGIN CERTIFICATE-----');
    expect(lines.slice(1, -2).map((line) => line.length)).to.deep.equal([64, 64, 8]);
    expect(lines.at(-2)).to.equal('-----END CERTIFICATE-----');
    expect(text.endsWith('\n')).to.equal(true);
  });

  it('parses back exactly the blocks it encodes', () => {
    const type = fc.stringMatching(/^[A-Z0-9]+( [A-Z0-9]+){0,3}$/);
    const block = fc.record({ type, bytes: fc.uint8Array({ maxLength: 400 }) });
    fc.assert(
      fc.property(fc.array(block, { maxLength: 4 }), (blocks) => {
        expect(parsePem(blocks.map(encodePem).join('text between blocks\n'))).to.deep.equal(blocks);
      }),
    );
  });
});
