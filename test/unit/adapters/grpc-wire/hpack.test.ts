import { expect } from 'chai';
import fc from 'fast-check';
import { HpackDecoder, HpackError, HUFFMAN_CODE_LENGTHS, huffmanCodes, huffmanDecode, literalField } from '../../../../src/adapters/grpc-wire/hpack.js';

/** A Huffman encoder built from the code table under test, padding with the EOS prefix (all ones). */
function huffmanEncode(bytes: Uint8Array): Buffer {
  const codes = huffmanCodes();
  const bits: number[] = [];
  for (const byte of bytes) {
    for (let bit = HUFFMAN_CODE_LENGTHS[byte]! - 1; bit >= 0; bit--) bits.push(Math.floor(codes[byte]! / 2 ** bit) & 1);
  }
  while (bits.length % 8 !== 0) bits.push(1);
  const out = Buffer.alloc(bits.length / 8);
  bits.forEach((bit, i) => (out[i >> 3]! |= bit << (7 - (i & 7))));
  return out;
}

const hex = (text: string): Buffer => Buffer.from(text.replace(/\s/g, ''), 'hex');
const decoded = (decoder: HpackDecoder, block: Buffer): [string, string][] => [...decoder.decode(block)];

describe('HPACK', () => {
  describe('the Huffman code', () => {
    it('is a complete prefix code of 257 symbols, EOS 30 one bits, as RFC 7541 Appendix B gives it', () => {
      expect(HUFFMAN_CODE_LENGTHS).to.have.length(257);
      // Kraft: a complete prefix code's 2^-length sum to exactly 1 (2^30 in units of the longest code).
      expect(HUFFMAN_CODE_LENGTHS.reduce((sum, length) => sum + 2 ** (30 - length), 0)).to.equal(2 ** 30);
      const codes = huffmanCodes();
      expect([HUFFMAN_CODE_LENGTHS[256], codes[256]]).to.deep.equal([30, 0x3fffffff]);
      // A few rows of the appendix: '0' 00000, 'a' 00011, ' ' 010100, '%' 010101, NUL 1111111111000, 'z' 1111011.
      expect([codes[48], codes[97], codes[32], codes[37], codes[0], codes[122]]).to.deep.equal([0x0, 0x3, 0x14, 0x15, 0x1ff8, 0x7b]);
    });

    it('decodes the strings of RFC 7541 C.4', () => {
      const cases: [string, string][] = [
        ['f1e3 c2e5 f23a 6ba0 ab90 f4ff', 'www.example.com'],
        ['a8eb 1064 9cbf', 'no-cache'],
        ['25a8 49e9 5ba9 7d7f', 'custom-key'],
        ['25a8 49e9 5bb8 e8b4 bf', 'custom-value'],
      ];
      for (const [coded, text] of cases) {
        const bytes = hex(coded);
        expect(huffmanDecode(bytes, 0, bytes.length)).to.equal(text);
      }
    });

    it('decodes every byte string coded with the table', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          const coded = huffmanEncode(bytes);
          expect(Buffer.from(huffmanDecode(coded, 0, coded.length), 'latin1')).to.deep.equal(Buffer.from(bytes));
        }),
      );
    });

    const refused: [string, Buffer, string][] = [
      ['padding of 8 bits or more', Buffer.concat([huffmanEncode(Buffer.from('a')), Buffer.from([0xff])]), 'padding'],
      ['padding not all ones', Buffer.from([0x18]), 'padding'], // 'a' (00011) then 000
      ['EOS inside the string', Buffer.from([0xff, 0xff, 0xff, 0xff]), 'EOS'],
    ];
    for (const [name, coded, message] of refused) {
      it(`refuses ${name}`, () => {
        expect(() => huffmanDecode(coded, 0, coded.length)).to.throw(HpackError, message);
      });
    }
  });

  describe('HpackDecoder', () => {
    it('decodes the requests of RFC 7541 C.4 in order, indexing into the dynamic table', () => {
      const decoder = new HpackDecoder(4096, 64 * 1024);
      expect(decoded(decoder, hex('8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff'))).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
      ]);
      expect(decoded(decoder, hex('8286 84be 5886 a8eb 1064 9cbf'))).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'http'],
        [':path', '/'],
        [':authority', 'www.example.com'],
        ['cache-control', 'no-cache'],
      ]);
      expect(decoded(decoder, hex('8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf'))).to.deep.equal([
        [':method', 'GET'],
        [':scheme', 'https'],
        [':path', '/index.html'],
        [':authority', 'www.example.com'],
        ['custom-key', 'custom-value'],
      ]);
    });

    it('evicts the oldest entries once the table is full, and honours a size update', () => {
      const decoder = new HpackDecoder(100, 64 * 1024);
      const indexed = (name: string, value: string): Buffer => Buffer.concat([Buffer.from([0x40]), literalField(name, value).subarray(1)]);
      // Each entry takes 32 + 2 + 8 = 42 bytes: the third evicts the first.
      decoder.decode(Buffer.concat([indexed('n1', 'value-01'), indexed('n2', 'value-02'), indexed('n3', 'value-03')]));
      expect(decoded(decoder, Buffer.from([0xbe, 0xbf]))).to.deep.equal([
        ['n3', 'value-03'],
        ['n2', 'value-02'],
      ]);
      expect(() => decoder.decode(Buffer.from([0xc0]))).to.throw(HpackError, 'no table entry 64');
      // A size update to 0 empties the table.
      expect(() => decoder.decode(Buffer.from([0x20, 0xbe]))).to.throw(HpackError, 'no table entry 62');
    });

    it('reads a literal it wrote, whatever its length', () => {
      fc.assert(
        fc.property(fc.string({ minLength: 1, maxLength: 300 }), fc.string({ maxLength: 300 }), (name, value) => {
          const decoder = new HpackDecoder(4096, 64 * 1024);
          const ascii = (text: string): string => text.replace(/[^\x20-\x7e]/g, 'x').toLowerCase();
          expect(decoded(decoder, literalField(ascii(name), ascii(value)))).to.deep.equal([[ascii(name), ascii(value)]]);
        }),
      );
    });

    const refused: [string, Buffer, string][] = [
      ['index 0', Buffer.from([0x80]), 'no table entry 0'],
      ['an index past both tables', Buffer.from([0xff, 0x00]), 'no table entry 127'],
      ['a string running past the block', Buffer.from([0x00, 0x05, 0x61]), 'truncated string'],
      ['an integer running past the block', Buffer.from([0xff, 0x80]), 'truncated integer'],
      ['an integer over 2^31', Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x0f]), 'integer too large'],
      ['a table size over the one announced', Buffer.from([0x3f, 0xe1, 0x1f]), 'table size 4096 over 100'],
      ['a table size update after a field', Buffer.from([0x82, 0x20]), 'table size update after a field'],
    ];
    for (const [name, block, message] of refused) {
      it(`refuses ${name}`, () => {
        expect(() => new HpackDecoder(name.startsWith('a table size over') ? 100 : 4096, 64 * 1024).decode(block)).to.throw(HpackError, message);
      });
    }

    it('refuses a field list over its bound', () => {
      const decoder = new HpackDecoder(4096, 100);
      expect(() => decoder.decode(literalField('x-big', 'v'.repeat(80)))).to.throw(HpackError, 'header list over 100 bytes');
    });

    it('refuses nothing but with HpackError, whatever the bytes', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
          try {
            new HpackDecoder(4096, 64 * 1024).decode(Buffer.from(bytes));
          } catch (error) {
            expect(error).to.be.instanceOf(HpackError);
          }
        }),
      );
    });
  });
});
