// The protobuf wire format (https://protobuf.dev/programming-guides/encoding/): varints, tags, and the
// bounds every read is checked against.

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  StartGroup = 3,
  EndGroup = 4,
  Fixed32 = 5,
}

/** Input that is not a protobuf encoding of the message: says where and why. */
export class ProtobufDecodeError extends Error {
  constructor(message: string, offset: number) {
    super(`${message} at byte ${offset}`);
    this.name = 'ProtobufDecodeError';
  }
}

const MAX_VARINT_BYTES = 10;
const MAX_FIELD_NUMBER = 2 ** 29 - 1;

/** Writes into a buffer sized exactly beforehand. */
export class ProtoWriter {
  position: number;

  constructor(readonly buffer: Buffer, start: number) {
    this.position = start;
  }

  varint(value: number): void {
    // Negative int32s go out as 10-byte two's complement, as in every proto3 encoder.
    if (value < 0) {
      for (let i = 0; i < 4; i++) this.buffer[this.position++] = ((value >>> (7 * i)) & 0x7f) | 0x80;
      this.buffer[this.position++] = ((value >>> 28) & 0x0f) | 0x70 | 0x80;
      for (let i = 0; i < 4; i++) this.buffer[this.position++] = 0xff;
      this.buffer[this.position++] = 0x01;
      return;
    }
    while (value > 0x7f) {
      this.buffer[this.position++] = (value & 0x7f) | 0x80;
      value >>>= 7;
    }
    this.buffer[this.position++] = value;
  }

  /** A non-negative integer up to 2^53-1, all its bits (varint() keeps 32). */
  uint53(value: number): void {
    while (value > 0x7f) {
      this.buffer[this.position++] = (value % 0x80) | 0x80;
      value = Math.floor(value / 0x80);
    }
    this.buffer[this.position++] = value;
  }

  tag(fieldNumber: number, wireType: WireType): void {
    this.varint((fieldNumber << 3) | wireType);
  }
}

export function varintSize(value: number): number {
  if (value < 0) return MAX_VARINT_BYTES;
  let size = 1;
  while (value > 0x7f) {
    value >>>= 7;
    size++;
  }
  return size;
}

export function uint53Size(value: number): number {
  let size = 1;
  while (value > 0x7f) {
    value = Math.floor(value / 0x80);
    size++;
  }
  return size;
}

/** Reads within `limit`, which narrows to the bounds of the embedded message being read. */
export class ProtoReader {
  position = 0;
  limit: number;
  /** Whether the last varint read had a bit set above its low 32. */
  highBitsSet = false;

  constructor(readonly buffer: Buffer) {
    this.limit = buffer.length;
  }

  /** The low 32 bits of a varint, as an unsigned number; `highBitsSet` tells whether any bit above them was 1. */
  varint(): number {
    const start = this.position;
    let low = 0;
    this.highBitsSet = false;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.position >= this.limit) throw new ProtobufDecodeError('truncated varint', start);
      const byte = this.buffer[this.position++]!;
      if (i < 4) low |= (byte & 0x7f) << (7 * i);
      else if (i === 4) {
        low |= (byte & 0x0f) << 28;
        if (byte & 0x70) this.highBitsSet = true;
      } else if (byte & 0x7f) {
        if (i === MAX_VARINT_BYTES - 1 && byte > 1) throw new ProtobufDecodeError('varint overflows 64 bits', start);
        this.highBitsSet = true;
      }
      if ((byte & 0x80) === 0) return low >>> 0;
    }
    throw new ProtobufDecodeError('varint longer than 10 bytes', start);
  }

  /** A varint as an unsigned 64-bit number, exact up to 2^53 and the nearest double above. */
  varint53(): number {
    const start = this.position;
    let value = 0;
    for (let i = 0; i < MAX_VARINT_BYTES; i++) {
      if (this.position >= this.limit) throw new ProtobufDecodeError('truncated varint', start);
      const byte = this.buffer[this.position++]!;
      if (i === MAX_VARINT_BYTES - 1 && byte > 1) throw new ProtobufDecodeError('varint overflows 64 bits', start);
      value += (byte & 0x7f) * 2 ** (7 * i);
      if ((byte & 0x80) === 0) return value;
    }
    throw new ProtobufDecodeError('varint longer than 10 bytes', start);
  }

  /** The end offset of a length-delimited field whose length comes next. */
  lengthDelimitedEnd(): number {
    const start = this.position;
    const length = this.varint();
    if (this.highBitsSet || length > this.limit - this.position) {
      throw new ProtobufDecodeError(`length ${this.highBitsSet ? 'over 2^32' : length} runs past the end of the message`, start);
    }
    return this.position + length;
  }

  string(): string {
    const end = this.lengthDelimitedEnd();
    const value = this.buffer.toString('utf8', this.position, end);
    this.position = end;
    return value;
  }

  /** A view of the input, not a copy. */
  bytes(): Buffer {
    const end = this.lengthDelimitedEnd();
    const value = this.buffer.subarray(this.position, end);
    this.position = end;
    return value;
  }

  skip(wireType: number, fieldNumber: number, tagStart: number): void {
    switch (wireType) {
      case WireType.Varint:
        this.varint();
        return;
      case WireType.Fixed64:
        return this.advance(8, tagStart);
      case WireType.LengthDelimited:
        this.position = this.lengthDelimitedEnd();
        return;
      case WireType.Fixed32:
        return this.advance(4, tagStart);
      case WireType.StartGroup:
        return this.skipGroup(fieldNumber, tagStart);
      default:
        throw new ProtobufDecodeError(`field ${fieldNumber} has ${wireType === WireType.EndGroup ? 'an unmatched end-group tag' : `invalid wire type ${wireType}`}`, tagStart);
    }
  }

  /** A field header: `number << 3 | wireType`, its number checked to be 1 to 2^29-1. */
  tag(): number {
    const start = this.position;
    const tag = this.varint();
    const fieldNumber = tag >>> 3;
    if (this.highBitsSet || fieldNumber < 1 || fieldNumber > MAX_FIELD_NUMBER) throw new ProtobufDecodeError('invalid field number', start);
    return tag;
  }

  private advance(bytes: number, tagStart: number): void {
    if (this.limit - this.position < bytes) throw new ProtobufDecodeError(`truncated ${bytes * 8}-bit field`, tagStart);
    this.position += bytes;
  }

  private skipGroup(fieldNumber: number, tagStart: number): void {
    for (;;) {
      if (this.position >= this.limit) throw new ProtobufDecodeError(`group ${fieldNumber} has no end`, tagStart);
      const innerStart = this.position;
      const inner = this.tag();
      if ((inner & 7) === WireType.EndGroup) {
        if (inner >>> 3 !== fieldNumber) throw new ProtobufDecodeError(`group ${fieldNumber} ends as group ${inner >>> 3}`, innerStart);
        return;
      }
      this.skip(inner & 7, inner >>> 3, innerStart);
    }
  }
}
