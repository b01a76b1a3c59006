import { ProtoReader, ProtoWriter, uint53Size, varintSize, WireType } from './protobuf-wire.js';

export { ProtobufDecodeError } from './protobuf-wire.js';

/**
 * A small proto3 codec for messages whose fields are strings, bools, int32s, int64s, enums, bytes,
 * repeated strings, string maps and (repeated, oneof) messages: all the provider API and the CSI node
 * plugin need. Encoding leaves default values out, as proto3 encoders do; decoding
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
      writeString(writer, number, message[key] as string);
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

/**
 * A varint field, written as `wireValue` gives it (0, the default, left out). `wide`: the value may exceed
 * 32 bits (an int64 up to 2^53-1), written as its full unsigned varint.
 */
function varintField<T>(number: number, wireValue: (message: T) => number, read: FieldCodec<T>['read'], wide = false): FieldCodec<T> {
  const tagSize = varintSize(number << 3);
  return {
    number,
    wireType: WireType.Varint,
    size(message) {
      const value = wireValue(message);
      return value === 0 ? 0 : tagSize + (wide ? uint53Size(value) : varintSize(value));
    },
    write(writer, message) {
      const value = wireValue(message);
      if (value === 0) return;
      writer.tag(number, WireType.Varint);
      if (wide) writer.uint53(value);
      else writer.varint(value);
    },
    read,
  };
}

export function int32Field<T>(number: number, key: KeysOf<T, number>): FieldCodec<T> {
  return varintField(
    number,
    (message) => message[key] as number,
    (reader, message) => {
      // An int32 sent as a wider varint keeps its low 32 bits, as in every proto3 decoder.
      (message[key] as number) = reader.varint() | 0;
    },
  );
}

export function boolField<T>(number: number, key: KeysOf<T, boolean>): FieldCodec<T> {
  return varintField(
    number,
    (message) => (message[key] ? 1 : 0),
    (reader, message) => {
      // Any non-zero varint is true, as in every proto3 decoder.
      (message[key] as boolean) = reader.varint() !== 0 || reader.highBitsSet;
    },
  );
}

/**
 * An int64 held as a number: written for 0 to 2^53-1 (every value the driver sends); read exactly up to
 * 2^53, as the nearest double above.
 */
export function int64Field<T>(number: number, key: KeysOf<T, number>): FieldCodec<T> {
  return varintField(
    number,
    (message) => message[key] as number,
    (reader, message) => {
      (message[key] as number) = reader.varint53();
    },
    true,
  );
}

/**
 * An enum held by its value names (`names[n]` is the name of n): an unknown number read stays a number,
 * as proto3 keeps unknown enum values; an unknown name is not written.
 */
export function enumField<T>(number: number, key: KeysOf<T, string | number>, names: readonly string[]): FieldCodec<T> {
  const numbers = new Map(names.map((name, value) => [name, value]));
  return varintField(
    number,
    (message) => {
      const value = message[key] as string | number;
      return typeof value === 'number' ? value : (numbers.get(value) ?? 0);
    },
    (reader, message) => {
      const value = reader.varint() | 0;
      (message[key] as string | number) = names[value] ?? value;
    },
  );
}

/**
 * A repeated length-delimited field: each element tagged and length-prefixed (`length` its body's bytes,
 * `writeBody` its body), an empty element included.
 */
function repeatedField<T, E>(
  number: number,
  key: KeysOf<T, E[]>,
  length: (element: E) => number,
  writeBody: (writer: ProtoWriter, element: E, length: number) => void,
  readElement: (reader: ProtoReader) => E,
): FieldCodec<T> {
  const tagSize = varintSize(number << 3);
  return {
    number,
    wireType: WireType.LengthDelimited,
    size(message) {
      let total = 0;
      for (const element of message[key] as E[]) {
        const bytes = length(element);
        total += tagSize + varintSize(bytes) + bytes;
      }
      return total;
    },
    write(writer, message) {
      for (const element of message[key] as E[]) {
        const bytes = length(element);
        writer.tag(number, WireType.LengthDelimited);
        writer.varint(bytes);
        writeBody(writer, element, bytes);
      }
    },
    read(reader, message) {
      (message[key] as E[]).push(readElement(reader));
    },
  };
}

export function repeatedStringField<T>(number: number, key: KeysOf<T, string[]>): FieldCodec<T> {
  return repeatedField<T, string>(
    number,
    key,
    (value) => Buffer.byteLength(value),
    (writer, value, length) => {
      writer.position += writer.buffer.write(value, writer.position, length, 'utf8');
    },
    (reader) => reader.string(),
  );
}

/** A string key and value, as a map entry is on the wire. */
interface MapEntry {
  key: string;
  value: string;
}

const MAP_ENTRY_KEY = 1;
const MAP_ENTRY_VALUE = 2;

/**
 * `map<string, string>`: on the wire, one entry message `{ key = 1; value = 2 }` per pair; an entry
 * without a key or value has the empty string there, and a later entry for a key replaces an earlier
 * one. Every key is kept as a plain property, "__proto__" included.
 */
export function stringMapField<T>(number: number, key: KeysOf<T, Record<string, string>>): FieldCodec<T> {
  const tagSize = varintSize(number << 3);
  const entryCodec = new MessageCodec<MapEntry>(() => ({ key: '', value: '' }), [stringField(MAP_ENTRY_KEY, 'key'), stringField(MAP_ENTRY_VALUE, 'value')]);
  const entrySize = (entryKey: string, value: string): number => {
    const keyLength = Buffer.byteLength(entryKey);
    const valueLength = Buffer.byteLength(value);
    // Both always written, as protobuf-go writes map entries.
    return 1 + varintSize(keyLength) + keyLength + 1 + varintSize(valueLength) + valueLength;
  };
  return {
    number,
    wireType: WireType.LengthDelimited,
    size(message) {
      let total = 0;
      for (const [entryKey, value] of Object.entries(message[key] as Record<string, string>)) {
        const length = entrySize(entryKey, value);
        total += tagSize + varintSize(length) + length;
      }
      return total;
    },
    write(writer, message) {
      for (const [entryKey, value] of Object.entries(message[key] as Record<string, string>)) {
        writer.tag(number, WireType.LengthDelimited);
        writer.varint(entrySize(entryKey, value));
        writeString(writer, MAP_ENTRY_KEY, entryKey, true);
        writeString(writer, MAP_ENTRY_VALUE, value, true);
      }
    },
    read(reader, message) {
      const entry = entryCodec.readEmbedded(reader, entryCodec.empty());
      Object.defineProperty(message[key], entry.key, { value: entry.value, enumerable: true, writable: true, configurable: true });
    },
  };
}

function writeString(writer: ProtoWriter, number: number, value: string, evenEmpty = false): void {
  const length = Buffer.byteLength(value);
  if (length === 0 && !evenEmpty) return;
  writer.tag(number, WireType.LengthDelimited);
  writer.varint(length);
  writer.position += writer.buffer.write(value, writer.position, length, 'utf8');
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
  return repeatedField<T, M>(
    number,
    key,
    (element) => codec.size(element),
    (writer, element) => codec.writeFields(writer, element),
    (reader) => codec.readEmbedded(reader, codec.empty()),
  );
}

/**
 * A member of a oneof: reading it clears the other members (the last one on the wire wins, as the
 * proto3 rules say) and names it in `caseKey`, as proto-loader's `oneofs: true` does. Encoding needs
 * nothing more: an absent member is null and written as nothing.
 */
export function oneofMember<T>(field: FieldCodec<T>, caseKey: keyof T, caseName: string, otherMembers: readonly (keyof T)[]): FieldCodec<T> {
  return {
    ...field,
    read(reader, message) {
      for (const other of otherMembers) (message[other] as unknown) = null;
      field.read(reader, message);
      (message[caseKey] as unknown) = caseName;
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

/** A unary gRPC method: its HTTP/2 path and message codecs. */
export interface UnaryMethod<Request, Response> {
  readonly path: string;
  readonly request: MessageCodec<Request>;
  readonly response: MessageCodec<Response>;
}
