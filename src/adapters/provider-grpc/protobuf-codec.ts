import { ProtoReader, ProtoWriter, varintSize, WireType } from './protobuf-wire.js';

export { ProtobufDecodeError } from './protobuf-wire.js';

/**
 * A small proto3 codec for messages whose fields are strings, int32s, bytes and (repeated) messages:
 * all the provider API needs. Encoding leaves default values out, as proto3 encoders do; decoding
 * skips unknown fields by their wire type, and a known field sent with another wire type, as
 * protobuf-go (the upstream driver's decoder) does, and refuses truncated or overlong input.
 */

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
