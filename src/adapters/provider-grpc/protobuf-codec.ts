/**
 * A small proto3 codec for messages whose fields are strings, int32s, bytes and (repeated) messages:
 * all the provider API needs. Encoding leaves default values out, as proto3 encoders do; decoding
 * skips unknown fields by their wire type, and a known field sent with another wire type, as
 * protobuf-go (the upstream driver's decoder) does, and refuses truncated or overlong input.
 */

const enum WireType {
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
class ProtoWriter {
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

  tag(fieldNumber: number, wireType: WireType): void {
    this.varint((fieldNumber << 3) | wireType);
  }
}

function varintSize(value: number): number {
  if (value < 0) return MAX_VARINT_BYTES;
  let size = 1;
  while (value > 0x7f) {
    value >>>= 7;
    size++;
  }
  return size;
}

/** Reads within `limit`, which narrows to the bounds of the embedded message being read. */
class ProtoReader {
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

/** One field of message `T`: how it is sized, written and read. */
interface FieldCodec<T> {
  readonly number: number;
  readonly wireType: WireType;
  /** Bytes the field takes, tag included; 0 when proto3 leaves it out. */
  size(message: T): number;
  write(writer: ProtoWriter, message: T): void;
  /** Reads one occurrence (the tag already read) into `message`. */
  read(reader: ProtoReader, message: T): void;
}

type KeysOf<T, V> = { [K in keyof T]: T[K] extends V ? K : never }[keyof T];

export function stringField<T>(number: number, key: KeysOf<T, string>): FieldCodec<T> {
  const tagSize = varintSize(number << 3);
  return {
    number,
    wireType: WireType.LengthDelimited,
    size(message) {
      const value = message[key] as string;
      if (value.length === 0) return 0;
      const length = Buffer.byteLength(value);
      return tagSize + varintSize(length) + length;
    },
    write(writer, message) {
      const value = message[key] as string;
      if (value.length === 0) return;
      writer.tag(number, WireType.LengthDelimited);
      const length = Buffer.byteLength(value);
      writer.varint(length);
      writer.position += writer.buffer.write(value, writer.position, length, 'utf8');
    },
    read(reader, message) {
      (message[key] as string) = reader.string();
    },
  };
}

export function bytesField<T>(number: number, key: KeysOf<T, Uint8Array>): FieldCodec<T> {
  const tagSize = varintSize(number << 3);
  return {
    number,
    wireType: WireType.LengthDelimited,
    size(message) {
      const { byteLength } = message[key] as Uint8Array;
      return byteLength === 0 ? 0 : tagSize + varintSize(byteLength) + byteLength;
    },
    write(writer, message) {
      const value = message[key] as Uint8Array;
      if (value.byteLength === 0) return;
      writer.tag(number, WireType.LengthDelimited);
      writer.varint(value.byteLength);
      writer.buffer.set(value, writer.position);
      writer.position += value.byteLength;
    },
    read(reader, message) {
      (message[key] as Uint8Array) = reader.bytes();
    },
  };
}

export function int32Field<T>(number: number, key: KeysOf<T, number>): FieldCodec<T> {
  const tagSize = varintSize(number << 3);
  return {
    number,
    wireType: WireType.Varint,
    size(message) {
      const value = message[key] as number;
      return value === 0 ? 0 : tagSize + varintSize(value);
    },
    write(writer, message) {
      const value = message[key] as number;
      if (value === 0) return;
      writer.tag(number, WireType.Varint);
      writer.varint(value);
    },
    read(reader, message) {
      // An int32 sent as a wider varint keeps its low 32 bits, as in every proto3 decoder.
      (message[key] as number) = reader.varint() | 0;
    },
  };
}

/** A singular embedded message: absent is `null`; occurrences merge, as the proto3 rules say. */
export function messageField<T, M>(number: number, key: KeysOf<T, M | null>, codec: MessageCodec<M>): FieldCodec<T> {
  const tagSize = varintSize(number << 3);
  return {
    number,
    wireType: WireType.LengthDelimited,
    size(message) {
      const value = message[key] as M | null;
      if (value === null) return 0;
      const length = codec.size(value);
      return tagSize + varintSize(length) + length;
    },
    write(writer, message) {
      const value = message[key] as M | null;
      if (value === null) return;
      writer.tag(number, WireType.LengthDelimited);
      writer.varint(codec.size(value));
      codec.writeFields(writer, value);
    },
    read(reader, message) {
      (message[key] as M) = codec.readEmbedded(reader, (message[key] as M | null) ?? codec.empty());
    },
  };
}

export function repeatedMessageField<T, M>(number: number, key: KeysOf<T, M[]>, codec: MessageCodec<M>): FieldCodec<T> {
  const tagSize = varintSize(number << 3);
  return {
    number,
    wireType: WireType.LengthDelimited,
    size(message) {
      let total = 0;
      for (const element of message[key] as M[]) {
        const length = codec.size(element);
        total += tagSize + varintSize(length) + length;
      }
      return total;
    },
    write(writer, message) {
      for (const element of message[key] as M[]) {
        writer.tag(number, WireType.LengthDelimited);
        writer.varint(codec.size(element));
        codec.writeFields(writer, element);
      }
    },
    read(reader, message) {
      (message[key] as M[]).push(codec.readEmbedded(reader, codec.empty()));
    },
  };
}

/** Encodes and decodes one message type, described by its fields. */
export class MessageCodec<T> {
  private readonly byNumber = new Map<number, FieldCodec<T>>();

  /** `empty`: a new message with every field at its default (strings '', numbers 0, lists [], messages null). */
  constructor(readonly empty: () => T, private readonly fields: readonly FieldCodec<T>[]) {
    for (const field of fields) this.byNumber.set(field.number, field);
  }

  /** The encoding, after `reserve` free bytes left at the start (a frame header can go there, saving a copy). */
  encode(message: T, reserve = 0): Buffer {
    const size = this.size(message);
    const writer = new ProtoWriter(Buffer.allocUnsafe(reserve + size), reserve);
    this.writeFields(writer, message);
    return writer.buffer;
  }

  /** Bytes fields of the result are views of `bytes`. */
  decode(bytes: Buffer): T {
    return this.readFields(new ProtoReader(bytes), this.empty());
  }

  size(message: T): number {
    let total = 0;
    for (const field of this.fields) total += field.size(message);
    return total;
  }

  writeFields(writer: ProtoWriter, message: T): void {
    for (const field of this.fields) field.write(writer, message);
  }

  readEmbedded(reader: ProtoReader, into: T): T {
    const end = reader.lengthDelimitedEnd();
    const outerLimit = reader.limit;
    reader.limit = end;
    this.readFields(reader, into);
    reader.limit = outerLimit;
    return into;
  }

  private readFields(reader: ProtoReader, into: T): T {
    while (reader.position < reader.limit) {
      const tagStart = reader.position;
      const tag = reader.tag();
      const fieldNumber = tag >>> 3;
      const wireType = tag & 7;
      const field = this.byNumber.get(fieldNumber);
      if (field !== undefined && field.wireType === wireType) field.read(reader, into);
      else reader.skip(wireType, fieldNumber, tagStart);
    }
    return into;
  }
}
