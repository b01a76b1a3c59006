import { join } from 'node:path';
import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { expect } from 'chai';
import fc from 'fast-check';
import { PROTO_LOADER_OPTIONS, protoDir } from '../../../../src/gen/load.js';
import { assertRefusesOnlyWithDecodeErrors } from '../../../support/protobuf-properties.js';
import { ProtobufDecodeError, type MessageCodec } from '../../../../src/adapters/grpc-wire/protobuf-codec.js';
import {
  MOUNT_METHOD,
  MOUNT_REQUEST,
  MOUNT_RESPONSE,
  VERSION_METHOD,
  VERSION_REQUEST,
  VERSION_RESPONSE,
  type MountRequest,
  type MountResponse,
  type VersionRequest,
  type VersionResponse,
} from '../../../../src/adapters/provider-grpc/provider-messages.js';

/** protobufjs as proto-loader drives it: the encoding the provider client used before, and every provider's peer. */
const reference = loadSync(join(protoDir(), 'provider.proto'), PROTO_LOADER_OPTIONS);
const referenceMount = reference['v1alpha1.CSIDriverProvider'] as unknown as Record<'Mount' | 'Version', MethodDefinition<unknown, unknown>>;

const text = fc.string({ unit: 'grapheme', maxLength: 40 });
const nonEmptyText = fc.string({ unit: 'grapheme', minLength: 1, maxLength: 40 });
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const bytes = fc.uint8Array({ maxLength: 64 }).map((array) => Buffer.from(array));

const objectVersion = (value: fc.Arbitrary<string>) => fc.record({ id: value, version: value });
const mountRequest = (value: fc.Arbitrary<string>): fc.Arbitrary<MountRequest> =>
  fc.record({ attributes: value, secrets: value, targetPath: value, permission: value, currentObjectVersion: fc.array(objectVersion(value), { maxLength: 4 }) });
const mountResponse = (value: fc.Arbitrary<string>, number: fc.Arbitrary<number>, data: fc.Arbitrary<Buffer>): fc.Arbitrary<MountResponse> =>
  fc.record({
    objectVersion: fc.array(objectVersion(value), { maxLength: 4 }),
    error: fc.option(fc.record({ code: value }), { nil: null }),
    files: fc.array(fc.record({ path: value, mode: number, contents: data }), { maxLength: 4 }),
  });
const versionRequest = (value: fc.Arbitrary<string>): fc.Arbitrary<VersionRequest> => fc.record({ version: value });
const versionResponse = (value: fc.Arbitrary<string>): fc.Arbitrary<VersionResponse> =>
  fc.record({ version: value, runtimeName: value, runtimeVersion: value });

const nonZeroInt32 = int32.filter((n) => n !== 0);
const nonEmptyBytes = fc.uint8Array({ minLength: 1, maxLength: 64 }).map((array) => Buffer.from(array));

/** Each message type, its codec, the reference's encoder and decoder, and messages of any content / with no field at its default. */
interface MessageCase<T> {
  readonly name: string;
  readonly codec: MessageCodec<T>;
  readonly referenceEncode: (message: T) => Buffer;
  readonly referenceDecode: (bytes: Buffer) => unknown;
  readonly any: fc.Arbitrary<T>;
  readonly noDefaults: fc.Arbitrary<T>;
}

const mountRequestCase: MessageCase<MountRequest> = {
  name: 'MountRequest',
  codec: MOUNT_REQUEST,
  referenceEncode: referenceMount.Mount.requestSerialize,
  referenceDecode: referenceMount.Mount.requestDeserialize,
  any: mountRequest(text),
  noDefaults: mountRequest(nonEmptyText),
};
const mountResponseCase: MessageCase<MountResponse> = {
  name: 'MountResponse',
  codec: MOUNT_RESPONSE,
  referenceEncode: referenceMount.Mount.responseSerialize,
  referenceDecode: referenceMount.Mount.responseDeserialize,
  any: mountResponse(text, int32, bytes),
  noDefaults: mountResponse(nonEmptyText, nonZeroInt32, nonEmptyBytes),
};
const versionRequestCase: MessageCase<VersionRequest> = {
  name: 'VersionRequest',
  codec: VERSION_REQUEST,
  referenceEncode: referenceMount.Version.requestSerialize,
  referenceDecode: referenceMount.Version.requestDeserialize,
  any: versionRequest(text),
  noDefaults: versionRequest(nonEmptyText),
};
const versionResponseCase: MessageCase<VersionResponse> = {
  name: 'VersionResponse',
  codec: VERSION_RESPONSE,
  referenceEncode: referenceMount.Version.responseSerialize,
  referenceDecode: referenceMount.Version.responseDeserialize,
  any: versionResponse(text),
  noDefaults: versionResponse(nonEmptyText),
};

/** Bytes fields compared by content, whatever the Buffer or Uint8Array they come in. */
function plain(value: unknown): unknown {
  if (value instanceof Uint8Array) return [...value];
  if (Array.isArray(value)) return value.map(plain);
  if (value !== null && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, field]) => [key, plain(field)]));
  return value;
}

function describeMessage<T>({ name, codec, referenceEncode, referenceDecode, any, noDefaults }: MessageCase<T>): void {
    describe(name, () => {
      it('decodes what it encodes', () => {
        fc.assert(fc.property(any, (message) => {
          expect(plain(codec.decode(codec.encode(message)))).to.deep.equal(plain(message));
        }));
      });

      it('is decoded by protobufjs to the same message', () => {
        fc.assert(fc.property(any, (message) => {
          expect(plain(referenceDecode(codec.encode(message)))).to.deep.equal(plain(message));
        }));
      });

      it('decodes what protobufjs encodes', () => {
        fc.assert(fc.property(any, (message) => {
          expect(plain(codec.decode(referenceEncode(message)))).to.deep.equal(plain(message));
        }));
      });

      it('writes the very bytes protobufjs writes when no field holds its default (which proto3 leaves out and protobufjs writes)', () => {
        fc.assert(fc.property(noDefaults, (message) => {
          expect(codec.encode(message).equals(referenceEncode(message))).to.equal(true);
        }));
      });

      it('leaves room for a frame header in front when asked', () => {
        fc.assert(fc.property(any, (message) => {
          expect(codec.encode(message, 5).subarray(5).equals(codec.encode(message))).to.equal(true);
        }));
      });

      it('throws nothing but a ProtobufDecodeError, whatever the input', () => {
        assertRefusesOnlyWithDecodeErrors(codec as MessageCodec<unknown>);
      });
    });
}

describe('provider API protobuf codec', () => {
  describeMessage(mountRequestCase);
  describeMessage(mountResponseCase);
  describeMessage(versionRequestCase);
  describeMessage(versionResponseCase);

  it('names the methods by their HTTP/2 paths', () => {
    expect([MOUNT_METHOD.path, VERSION_METHOD.path]).to.deep.equal(['/v1alpha1.CSIDriverProvider/Mount', '/v1alpha1.CSIDriverProvider/Version']);
  });

  it('leaves every default value out, as proto3 encoders do', () => {
    expect(MOUNT_REQUEST.encode({ attributes: '', secrets: '', targetPath: '', permission: '', currentObjectVersion: [] }).length).to.equal(0);
    expect(MOUNT_RESPONSE.encode({ objectVersion: [], error: null, files: [{ path: '', mode: 0, contents: Buffer.alloc(0) }] })).to.deep.equal(Buffer.from([0x1a, 0x00]));
  });

  it('writes a negative mode as a 10-byte varint and reads it back', () => {
    const encoded = MOUNT_RESPONSE.encode({ objectVersion: [], error: null, files: [{ path: '', mode: -1, contents: Buffer.alloc(0) }] });
    expect([...encoded]).to.deep.equal([0x1a, 0x0b, 0x10, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
    expect(MOUNT_RESPONSE.decode(encoded).files[0]!.mode).to.equal(-1);
  });

  describe('decoding what a newer or odd provider sends', () => {
    const version = [0x0a, 0x02, 0x76, 0x31]; // VersionResponse.version = "v1"
    const tolerated: { name: string; bytes: number[] }[] = [
      { name: 'an unknown varint field', bytes: [0x20, 0x96, 0x01] },
      { name: 'an unknown 64-bit field', bytes: [0x21, 1, 2, 3, 4, 5, 6, 7, 8] },
      { name: 'an unknown length-delimited field', bytes: [0x22, 0x03, 0x61, 0x62, 0x63] },
      { name: 'an unknown 32-bit field', bytes: [0x25, 1, 2, 3, 4] },
      { name: 'an unknown group with fields inside', bytes: [0x23, 0x08, 0x01, 0x2b, 0x2c, 0x24] },
      { name: 'a known field sent with another wire type (protobuf-go keeps it as unknown)', bytes: [0x10, 0x05] },
      { name: 'a field number beyond any known', bytes: [0xf8, 0xff, 0xff, 0xff, 0x0f, 0x01] },
    ];
    for (const { name, bytes } of tolerated) {
      it(`skips ${name}`, () => {
        for (const input of [[...bytes, ...version], [...version, ...bytes]]) {
          expect(VERSION_RESPONSE.decode(Buffer.from(input))).to.deep.equal({ version: 'v1', runtimeName: '', runtimeVersion: '' });
        }
      });
    }

    it('skips unknown fields of any wire type inserted between known ones', () => {
      const unknownField = fc.oneof(
        fc.tuple(fc.integer({ min: 4, max: 2000 }), fc.nat()).map(([number, value]) => [...varint(number * 8), ...varint(value)]),
        fc.tuple(fc.integer({ min: 4, max: 2000 }), fc.uint8Array({ maxLength: 20 })).map(([number, data]) => [...varint(number * 8 + 2), ...varint(data.length), ...data]),
        fc.integer({ min: 4, max: 2000 }).map((number) => [...varint(number * 8 + 5), 1, 2, 3, 4]),
        fc.integer({ min: 4, max: 2000 }).map((number) => [...varint(number * 8 + 1), 1, 2, 3, 4, 5, 6, 7, 8]),
      );
      fc.assert(
        fc.property(mountResponse(text, int32, bytes), fc.array(unknownField, { maxLength: 5 }), (message, unknown) => {
          const encoded = [...MOUNT_RESPONSE.encode(message)];
          const withUnknown = Buffer.from([...unknown.flat(), ...encoded, ...unknown.flat()]);
          expect(plain(MOUNT_RESPONSE.decode(withUnknown))).to.deep.equal(plain(message));
        }),
      );
    });

    it('merges a repeated singular message field and keeps the last value of a repeated scalar', () => {
      const twice = Buffer.from([0x12, 0x03, 0x0a, 0x01, 0x61, 0x12, 0x00, 0x12, 0x03, 0x0a, 0x01, 0x62]);
      expect(MOUNT_RESPONSE.decode(twice).error).to.deep.equal({ code: 'b' });
      expect(MOUNT_RESPONSE.decode(Buffer.from([0x12, 0x03, 0x0a, 0x01, 0x61, 0x12, 0x00])).error).to.deep.equal({ code: 'a' });
      expect(VERSION_RESPONSE.decode(Buffer.from([0x0a, 0x01, 0x61, 0x0a, 0x01, 0x62])).version).to.equal('b');
    });

    it('keeps the low 32 bits of a mode sent wider than an int32, as protobufjs does', () => {
      const wide = Buffer.from([0x1a, 0x06, 0x10, 0x85, 0x80, 0x80, 0x80, 0x10]); // files { mode: 2^32 + 5 }
      expect(MOUNT_RESPONSE.decode(wide).files[0]!.mode).to.equal(5);
      expect(referenceFileMode(wide)).to.equal(5);
    });

    const malformed: { name: string; bytes: number[]; message: string }[] = [
      { name: 'a truncated varint', bytes: [0x10, 0x80], message: 'truncated varint at byte 1' },
      { name: 'a truncated tag', bytes: [0x80], message: 'truncated varint at byte 0' },
      { name: 'a varint longer than 10 bytes', bytes: [0x20, ...Array(9).fill(0xff), 0x80, 0x01], message: 'varint longer than 10 bytes at byte 1' },
      { name: 'a varint overflowing 64 bits', bytes: [0x20, ...Array(9).fill(0xff), 0x02], message: 'varint overflows 64 bits at byte 1' },
      { name: 'a length past the end', bytes: [0x0a, 0x05, 0x61], message: 'length 5 runs past the end of the message at byte 1' },
      { name: 'a length over 2^32', bytes: [0x0a, 0x80, 0x80, 0x80, 0x80, 0x10], message: 'length over 2^32 runs past the end of the message at byte 1' },
      { name: 'field number 0', bytes: [0x02, 0x00], message: 'invalid field number at byte 0' },
      { name: 'wire type 6', bytes: [0x0e], message: 'field 1 has invalid wire type 6 at byte 0' },
      { name: 'an end-group tag without a group', bytes: [0x0c], message: 'field 1 has an unmatched end-group tag at byte 0' },
      { name: 'a group without its end', bytes: [0x23, 0x08, 0x01], message: 'group 4 has no end at byte 0' },
      { name: 'a group ending as another', bytes: [0x23, 0x2c], message: 'group 4 ends as group 5 at byte 1' },
      { name: 'a truncated 64-bit field', bytes: [0x21, 1, 2], message: 'truncated 64-bit field at byte 0' },
      { name: 'a truncated 32-bit field', bytes: [0x25, 1], message: 'truncated 32-bit field at byte 0' },
    ];
    for (const { name, bytes, message } of malformed) {
      it(`refuses ${name}, saying where`, () => {
        expect(() => VERSION_RESPONSE.decode(Buffer.from(bytes))).to.throw(ProtobufDecodeError, message);
      });
    }

    it('refuses an embedded message whose field runs past the embedded length, though not past the input', () => {
      // files { path: length 5 } where the File itself is 3 bytes long, followed by more bytes.
      const input = Buffer.from([0x1a, 0x03, 0x0a, 0x05, 0x61, 0x62, 0x63, 0x64, 0x65]);
      expect(() => MOUNT_RESPONSE.decode(input)).to.throw(ProtobufDecodeError, 'length 5 runs past the end of the message at byte 3');
    });

    it('gives bytes fields as views of the input, not copies', () => {
      const input = MOUNT_RESPONSE.encode({ objectVersion: [], error: null, files: [{ path: 'a', mode: 0, contents: Buffer.from('secret') }] });
      const contents = MOUNT_RESPONSE.decode(input).files[0]!.contents;
      expect(contents.buffer).to.equal(input.buffer);
    });
  });
});

function varint(value: number): number[] {
  const out: number[] = [];
  while (value > 0x7f) {
    out.push((value & 0x7f) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function referenceFileMode(encoded: Buffer): number {
  return (referenceMount.Mount.responseDeserialize(encoded) as MountResponse).files[0]!.mode;
}
