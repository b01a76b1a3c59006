// HPACK (RFC 7541) as a unary gRPC client needs it: header fields sent as literals never indexed by the
// peer's decoder state (so sending needs no table), and a complete decoder for what a peer sends back
// (static and dynamic table, Huffman-coded strings: Go and nghttp2 servers code most of their strings).

/** A header block that breaks the HPACK rules: the connection cannot go on (COMPRESSION_ERROR). */
export class HpackError extends Error {}

/** The static table (RFC 7541 Appendix A), index 1 first. */
const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':method', 'GET'],
  [':method', 'POST'],
  [':path', '/'],
  [':path', '/index.html'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '200'],
  [':status', '204'],
  [':status', '206'],
  [':status', '304'],
  [':status', '400'],
  [':status', '404'],
  [':status', '500'],
  ['accept-charset', ''],
  ['accept-encoding', 'gzip, deflate'],
  ['accept-language', ''],
  ['accept-ranges', ''],
  ['accept', ''],
  ['access-control-allow-origin', ''],
  ['age', ''],
  ['allow', ''],
  ['authorization', ''],
  ['cache-control', ''],
  ['content-disposition', ''],
  ['content-encoding', ''],
  ['content-language', ''],
  ['content-length', ''],
  ['content-location', ''],
  ['content-range', ''],
  ['content-type', ''],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['expect', ''],
  ['expires', ''],
  ['from', ''],
  ['host', ''],
  ['if-match', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['if-range', ''],
  ['if-unmodified-since', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['max-forwards', ''],
  ['proxy-authenticate', ''],
  ['proxy-authorization', ''],
  ['range', ''],
  ['referer', ''],
  ['refresh', ''],
  ['retry-after', ''],
  ['server', ''],
  ['set-cookie', ''],
  ['strict-transport-security', ''],
  ['transfer-encoding', ''],
  ['user-agent', ''],
  ['vary', ''],
  ['via', ''],
  ['www-authenticate', ''],
];

/**
 * The bit length of each symbol's Huffman code (RFC 7541 Appendix B), bytes 0-255 then EOS. The code is
 * canonical (codes of one length are consecutive in symbol order, shorter ones first), so the lengths
 * define the codes.
 */
export const HUFFMAN_CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28,
  28, 28, 28, 28, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 28,
  6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6,
  5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10,
  13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6,
  15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5,
  6, 7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28,
  20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23, 23, 23, 24, 23,
  24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24,
  22, 21, 20, 22, 22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23,
  21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22, 23, 22, 22, 23,
  26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25,
  19, 21, 26, 27, 27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27,
  20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25, 24, 24, 26, 23,
  26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26,
  30,
];

const EOS = 256;

/** Each symbol's code, right-aligned, assigned canonically from the lengths. */
export function huffmanCodes(lengths: readonly number[] = HUFFMAN_CODE_LENGTHS): number[] {
  const order = lengths.map((length, symbol) => [length, symbol] as const).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  const codes: number[] = new Array<number>(lengths.length);
  let code = 0;
  let length = order[0]![0];
  for (const [symbolLength, symbol] of order) {
    code *= 2 ** (symbolLength - length);
    length = symbolLength;
    codes[symbol] = code++;
  }
  return codes;
}

/**
 * The decoding tree, two Int16 slots per node (the 0 branch, then the 1 branch): a positive slot is the
 * next node's index, a negative one a leaf (-1 - symbol), 0 no code at all.
 */
const HUFFMAN_TREE: Int16Array = (() => {
  const codes = huffmanCodes();
  const tree = new Int16Array(2 * 512);
  let nodes = 1;
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const length = HUFFMAN_CODE_LENGTHS[symbol]!;
    let node = 0;
    for (let bit = length - 1; bit >= 0; bit--) {
      const slot = 2 * node + (Math.floor(codes[symbol]! / 2 ** bit) & 1);
      if (bit === 0) tree[slot] = -1 - symbol;
      else node = tree[slot]! > 0 ? tree[slot]! : (tree[slot] = nodes++);
    }
  }
  return tree;
})();

/** A Huffman-coded string (RFC 7541 5.2): padding longer than 7 bits, not all ones, or holding EOS is an error. */
export function huffmanDecode(data: Buffer, start: number, end: number): string {
  const out = Buffer.allocUnsafe(Math.floor(((end - start) * 8) / 5) + 1);
  let written = 0;
  let node = 0;
  let depth = 0;
  let ones = true;
  for (let i = start; i < end; i++) {
    const byte = data[i]!;
    for (let bit = 7; bit >= 0; bit--) {
      const one = (byte >> bit) & 1;
      const next = HUFFMAN_TREE[2 * node + one]!;
      depth++;
      ones &&= one === 1;
      if (next < 0) {
        if (next === -1 - EOS) throw new HpackError('Huffman-coded string holds EOS');
        out[written++] = -1 - next;
        node = 0;
        depth = 0;
        ones = true;
      } else if (next === 0) {
        throw new HpackError('invalid Huffman code');
      } else {
        node = next;
      }
    }
  }
  if (depth > 7 || !ones) throw new HpackError('invalid Huffman padding');
  return out.toString('latin1', 0, written);
}

/** An HPACK integer (RFC 7541 5.1) with a `prefixBits` prefix, the prefix's other bits set to `flags`. */
function writeInteger(out: number[], value: number, prefixBits: number, flags: number): void {
  const max = (1 << prefixBits) - 1;
  if (value < max) {
    out.push(flags | value);
    return;
  }
  out.push(flags | max);
  let rest = value - max;
  while (rest >= 128) {
    out.push((rest % 128) + 128);
    rest = Math.floor(rest / 128);
  }
  out.push(rest);
}

/** A header field as a literal without indexing, with a new name, neither string Huffman-coded (RFC 7541 6.2.2). */
export function literalField(name: string, value: string): Buffer {
  const nameBytes = Buffer.from(name, 'latin1');
  const valueBytes = Buffer.from(value, 'latin1');
  const out: number[] = [0];
  writeInteger(out, nameBytes.length, 7, 0);
  const nameLength = Buffer.from(out);
  const valueLength: number[] = [];
  writeInteger(valueLength, valueBytes.length, 7, 0);
  return Buffer.concat([nameLength, nameBytes, Buffer.from(valueLength), valueBytes]);
}

/** One decoded header field list: names lower case, the first value of a name kept. */
export type HeaderFields = Map<string, string>;

/** HPACK's per-entry overhead in the table size (RFC 7541 4.1). */
const ENTRY_OVERHEAD = 32;

/**
 * Decodes the header blocks of one connection, in order (the dynamic table is connection state).
 * `maxTableSize` is the SETTINGS_HEADER_TABLE_SIZE this side announced; `maxListBytes` bounds one
 * decoded field list (names and values, plus 32 bytes a field, as SETTINGS_MAX_HEADER_LIST_SIZE counts).
 */
export class HpackDecoder {
  /** Newest entry last. */
  private readonly entries: [string, string][] = [];
  private size = 0;
  private tableLimit: number;

  constructor(private readonly maxTableSize: number, private readonly maxListBytes: number) {
    this.tableLimit = maxTableSize;
  }

  decode(block: Buffer): HeaderFields {
    const fields: HeaderFields = new Map();
    let listBytes = 0;
    let at = 0;
    let fieldSeen = false;
    const integer = (prefixBits: number): number => {
      const max = (1 << prefixBits) - 1;
      let value = block[at++]! & max;
      if (value < max) return value;
      let factor = 1;
      for (;;) {
        if (at >= block.length) throw new HpackError('truncated integer');
        const byte = block[at++]!;
        value += (byte & 127) * factor;
        if (value > 0x7fffffff) throw new HpackError('integer too large');
        if ((byte & 128) === 0) return value;
        factor *= 128;
      }
    };
    const string = (): string => {
      if (at >= block.length) throw new HpackError('truncated string');
      const huffman = (block[at]! & 128) !== 0;
      const length = integer(7);
      const end = at + length;
      if (end > block.length) throw new HpackError('truncated string');
      const text = huffman ? huffmanDecode(block, at, end) : block.toString('latin1', at, end);
      at = end;
      return text;
    };
    const entry = (index: number): readonly [string, string] => {
      if (index >= 1 && index <= STATIC_TABLE.length) return STATIC_TABLE[index - 1]!;
      const dynamic = this.entries[this.entries.length - 1 - (index - STATIC_TABLE.length - 1)];
      if (index === 0 || dynamic === undefined) throw new HpackError(`no table entry ${index}`);
      return dynamic;
    };
    const add = (name: string, value: string): void => {
      listBytes += name.length + value.length + ENTRY_OVERHEAD;
      if (listBytes > this.maxListBytes) throw new HpackError(`header list over ${this.maxListBytes} bytes`);
      if (!fields.has(name)) fields.set(name, value);
      fieldSeen = true;
    };
    while (at < block.length) {
      const first = block[at]!;
      if (first & 128) {
        const [name, value] = entry(integer(7));
        add(name, value);
      } else if (first & 64) {
        const index = integer(6);
        const name = index === 0 ? string() : entry(index)[0];
        const value = string();
        add(name, value);
        this.insert(name, value);
      } else if (first & 32) {
        // A table size update may only open a block (RFC 7541 4.2).
        if (fieldSeen) throw new HpackError('table size update after a field');
        const limit = integer(5);
        if (limit > this.maxTableSize) throw new HpackError(`table size ${limit} over ${this.maxTableSize}`);
        this.tableLimit = limit;
        this.evict(0);
      } else {
        // Literal without indexing (0000) or never indexed (0001): both leave the table alone.
        const index = integer(4);
        const name = index === 0 ? string() : entry(index)[0];
        add(name, string());
      }
    }
    return fields;
  }

  private insert(name: string, value: string): void {
    const entrySize = name.length + value.length + ENTRY_OVERHEAD;
    this.evict(entrySize);
    if (entrySize <= this.tableLimit) {
      this.entries.push([name, value]);
      this.size += entrySize;
    }
  }

  /** Drops the oldest entries until `room` more bytes fit (all of them when it never can). */
  private evict(room: number): void {
    while (this.entries.length > 0 && this.size + room > this.tableLimit) {
      const [name, value] = this.entries.shift()!;
      this.size -= name.length + value.length + ENTRY_OVERHEAD;
    }
  }
}
