import { loadSync, type MethodDefinition } from '@grpc/proto-loader';
import { expect } from 'chai';
import fc from 'fast-check';
import { PROTO_LOADER_OPTIONS, protoDir } from '../../../../src/gen/load.js';
import { assertRefusesOnlyWithDecodeErrors } from '../../../support/protobuf-properties.js';
import { ProtobufDecodeError, type MessageCodec } from '../../../../src/adapters/grpc-wire/protobuf-codec.js';
import {
  ACCESS_MODES,
  CONTROLLER_RPC_TYPES,
  CSI_METHODS,
  NODE_PUBLISH_VOLUME_REQUEST,
  NODE_RPC_TYPES,
  PLUGIN_SERVICE_TYPES,
  VOLUME_CAPABILITY,
  VOLUME_EXPANSION_TYPES,
  type CapacityRange,
  type VolumeCapability,
} from '../../../../src/adapters/csi-grpc/csi-messages.js';

/** protobufjs as proto-loader drives it: what the CSI server decoded and encoded with before, and kubelet's peer. */
const reference = loadSync('csi.proto', { ...PROTO_LOADER_OPTIONS, includeDirs: [protoDir()] });
function referenceMethod(service: 'Identity' | 'Node' | 'Controller', name: string): MethodDefinition<object, object> {
  return (reference[`csi.v1.${service}`] as unknown as Record<string, MethodDefinition<object, object>>)[name]!;
}

const text = fc.string({ unit: 'grapheme', maxLength: 30 });
const stringMap = fc.dictionary(text, text, { maxKeys: 4 });
const enumOf = <Name extends string>(names: readonly Name[]): fc.Arbitrary<Name | number> => fc.oneof(fc.constantFrom(...names), fc.integer({ min: names.length, max: 1000 }));

const mountVolume = fc.record({ fsType: text, mountFlags: fc.array(text, { maxLength: 3 }), volumeMountGroup: text });
const accessMode = fc.option(fc.record({ mode: enumOf(ACCESS_MODES) }), { nil: null });
const volumeCapability: fc.Arbitrary<VolumeCapability> = fc.oneof(
  fc.record({ block: fc.constant(null), mount: fc.constant(null), accessMode }),
  fc.record({ block: fc.constant({}), mount: fc.constant(null), accessMode, accessType: fc.constant('block' as const) }),
  fc.record({ block: fc.constant(null), mount: mountVolume, accessMode, accessType: fc.constant('mount' as const) }),
);
const optionalCapability = fc.option(volumeCapability, { nil: null });
const int64 = fc.maxSafeNat();
const capacityRange: fc.Arbitrary<CapacityRange | null> = fc.option(fc.record({ requiredBytes: int64, limitBytes: int64 }), { nil: null });
const empty = fc.constant({});

/** One method side: our codec, protobufjs' encoder and decoder for it, and messages of any content. */
interface MessageCase {
  readonly name: string;
  readonly codec: MessageCodec<unknown>;
  readonly referenceEncode: (message: object) => Buffer;
  readonly referenceDecode: (bytes: Buffer) => object;
  readonly any: fc.Arbitrary<unknown>;
}

function requestCase(service: 'Identity' | 'Node' | 'Controller', name: string, any: fc.Arbitrary<unknown>): MessageCase {
  const method = (CSI_METHODS as unknown as Record<string, Record<string, { request: MessageCodec<unknown> }>>)[service]![name]!;
  const definition = referenceMethod(service, name);
  return { name: `${name} request`, codec: method.request, referenceEncode: definition.requestSerialize, referenceDecode: definition.requestDeserialize, any };
}

function responseCase(service: 'Identity' | 'Node' | 'Controller', name: string, any: fc.Arbitrary<unknown>): MessageCase {
  const method = (CSI_METHODS as unknown as Record<string, Record<string, { response: MessageCodec<unknown> }>>)[service]![name]!;
  const definition = referenceMethod(service, name);
  return { name: `${name} response`, codec: method.response, referenceEncode: definition.responseSerialize, referenceDecode: definition.responseDeserialize, any };
}

const REQUESTS: MessageCase[] = [
  requestCase('Identity', 'GetPluginInfo', empty),
  requestCase('Identity', 'GetPluginCapabilities', empty),
  requestCase('Identity', 'Probe', empty),
  requestCase('Controller', 'ControllerGetCapabilities', empty),
  requestCase('Node', 'NodeGetCapabilities', empty),
  requestCase('Node', 'NodeGetInfo', empty),
  requestCase(
    'Node',
    'NodePublishVolume',
    fc.record({
      volumeId: text,
      publishContext: stringMap,
      stagingTargetPath: text,
      targetPath: text,
      volumeCapability: optionalCapability,
      readonly: fc.boolean(),
      secrets: stringMap,
      volumeContext: stringMap,
    }),
  ),
  requestCase('Node', 'NodeUnpublishVolume', fc.record({ volumeId: text, targetPath: text })),
  requestCase(
    'Node',
    'NodeStageVolume',
    fc.record({ volumeId: text, publishContext: stringMap, stagingTargetPath: text, volumeCapability: optionalCapability, secrets: stringMap, volumeContext: stringMap }),
  ),
  requestCase('Node', 'NodeUnstageVolume', fc.record({ volumeId: text, stagingTargetPath: text })),
  requestCase('Node', 'NodeGetVolumeStats', fc.record({ volumeId: text, volumePath: text, stagingTargetPath: text })),
  requestCase(
    'Node',
    'NodeExpandVolume',
    fc.record({ volumeId: text, volumePath: text, capacityRange, stagingTargetPath: text, volumeCapability: optionalCapability, secrets: stringMap }),
  ),
];

const RESPONSES: MessageCase[] = [
  responseCase('Identity', 'GetPluginInfo', fc.record({ name: text, vendorVersion: text, manifest: stringMap })),
  responseCase(
    'Identity',
    'GetPluginCapabilities',
    fc.record({
      capabilities: fc.array(
        fc.oneof(
          fc.record({ service: fc.record({ type: enumOf(PLUGIN_SERVICE_TYPES) }), volumeExpansion: fc.constant(null) }),
          fc.record({ service: fc.constant(null), volumeExpansion: fc.record({ type: enumOf(VOLUME_EXPANSION_TYPES) }) }),
        ),
        { maxLength: 4 },
      ),
    }),
  ),
  responseCase('Identity', 'Probe', fc.record({ ready: fc.option(fc.record({ value: fc.boolean() }), { nil: null }) })),
  responseCase(
    'Node',
    'NodeGetCapabilities',
    fc.record({ capabilities: fc.array(fc.record({ rpc: fc.option(fc.record({ type: enumOf(NODE_RPC_TYPES) }), { nil: null }) }), { maxLength: 4 }) }),
  ),
  responseCase(
    'Node',
    'NodeGetInfo',
    fc.record({ nodeId: text, maxVolumesPerNode: int64, accessibleTopology: fc.option(fc.record({ segments: stringMap }), { nil: null }) }),
  ),
  responseCase(
    'Controller',
    'ControllerGetCapabilities',
    fc.record({ capabilities: fc.array(fc.record({ rpc: fc.option(fc.record({ type: enumOf(CONTROLLER_RPC_TYPES) }), { nil: null }) }), { maxLength: 4 }) }),
  ),
  responseCase('Node', 'NodePublishVolume', empty),
  responseCase('Node', 'NodeUnpublishVolume', empty),
];

const INT64_FIELDS = new Set(['requiredBytes', 'limitBytes', 'maxVolumesPerNode']);

/**
 * A decoded message as both sides can be compared: absent messages (null here, left out by protobufjs
 * in a oneof) dropped, and int64s (strings from proto-loader's `longs: String`) as numbers.
 */
function comparable(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(comparable);
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value)
      .filter(([, field]) => field !== null && field !== undefined)
      .map(([key, field]) => [key, INT64_FIELDS.has(key) ? Number(field) : comparable(field)]),
  );
}

function describeMessage({ name, codec, referenceEncode, referenceDecode, any }: MessageCase, received: boolean): void {
  describe(name, () => {
    it('decodes what it encodes', () => {
      fc.assert(
        fc.property(any, (message) => {
          expect(codec.decode(codec.encode(message))).to.deep.equal(message);
        }),
      );
    });

    it('is decoded by protobufjs as protobufjs decodes its own encoding', () => {
      fc.assert(
        fc.property(any, (message) => {
          expect(referenceDecode(codec.encode(message))).to.deep.equal(referenceDecode(referenceEncode(message as object)));
        }),
      );
    });

    if (received) {
      it('decodes what protobufjs encodes', () => {
        fc.assert(
          fc.property(any, (message) => {
            expect(codec.decode(referenceEncode(message as object))).to.deep.equal(message);
          }),
        );
      });

      it('decodes to what protobufjs decodes', () => {
        fc.assert(
          fc.property(any, (message) => {
            const bytes = referenceEncode(message as object);
            expect(comparable(codec.decode(bytes))).to.deep.equal(comparable(referenceDecode(bytes)));
          }),
        );
      });

      it('throws nothing but a ProtobufDecodeError, whatever the input', () => {
        assertRefusesOnlyWithDecodeErrors(codec as MessageCodec<unknown>);
      });
    }
  });
}

describe('CSI protobuf codecs', () => {
  describe('requests the node plugin receives', () => {
    for (const request of REQUESTS) describeMessage(request, true);
  });

  describe('responses the node plugin sends', () => {
    for (const response of RESPONSES) describeMessage(response, false);
  });

  it('names every method by its HTTP/2 path', () => {
    const paths = Object.values(CSI_METHODS).flatMap((service) => Object.values(service).map((method) => method.path));
    expect(paths).to.include.members(['/csi.v1.Identity/Probe', '/csi.v1.Node/NodePublishVolume', '/csi.v1.Controller/ControllerGetCapabilities']);
    for (const [service, methods] of Object.entries(CSI_METHODS)) {
      for (const [name, method] of Object.entries(methods)) expect(method.path).to.equal(`/csi.v1.${service}/${name}`);
    }
  });

  it('writes a capability whose type is UNKNOWN (0) as a present, empty rpc message, which Go clients decode as set', () => {
    const encoded = CSI_METHODS.Controller.ControllerGetCapabilities.response.encode({ capabilities: [{ rpc: { type: 'UNKNOWN' } }] });
    expect([...encoded]).to.deep.equal([0x0a, 0x02, 0x0a, 0x00]);
  });

  it('keeps a map entry named "__proto__" as a plain entry', () => {
    const bytes = referenceMethod('Node', 'NodePublishVolume').requestSerialize({ volumeContext: { ['__proto__']: 'x', a: 'b' } });
    const decoded = NODE_PUBLISH_VOLUME_REQUEST.decode(bytes);
    expect(Object.getPrototypeOf(decoded.volumeContext)).to.equal(Object.prototype);
    expect(Object.entries(decoded.volumeContext)).to.deep.equal([['__proto__', 'x'], ['a', 'b']]);
  });

  it('takes the last map entry for a key sent twice, and an entry without key or value as the empty string', () => {
    const entry = (key: string, value: string) => [0x42, 4 + key.length + value.length, 0x0a, key.length, ...Buffer.from(key), 0x12, value.length, ...Buffer.from(value)];
    const bytes = Buffer.from([...entry('k', 'one'), ...entry('k', 'two'), 0x42, 0x00]);
    expect(NODE_PUBLISH_VOLUME_REQUEST.decode(bytes).volumeContext).to.deep.equal({ k: 'two', '': '' });
  });

  it('lets the last member of a oneof on the wire win, naming it', () => {
    const blockThenMount = Buffer.from([0x0a, 0x00, 0x12, 0x02, 0x0a, 0x00]);
    expect(VOLUME_CAPABILITY.decode(blockThenMount)).to.deep.equal({ block: null, mount: { fsType: '', mountFlags: [], volumeMountGroup: '' }, accessMode: null, accessType: 'mount' });
    const mountThenBlock = Buffer.from([0x12, 0x00, 0x0a, 0x00]);
    expect(VOLUME_CAPABILITY.decode(mountThenBlock)).to.deep.equal({ block: {}, mount: null, accessMode: null, accessType: 'block' });
  });

  it('keeps an access mode it does not know as its number', () => {
    expect(VOLUME_CAPABILITY.decode(Buffer.from([0x1a, 0x02, 0x08, 0x63])).accessMode).to.deep.equal({ mode: 99 });
  });

  it('skips unknown fields of every wire type in a publish request', () => {
    const known = referenceMethod('Node', 'NodeUnpublishVolume').requestSerialize({ volumeId: 'v', targetPath: '/t' });
    const unknown = [0x18, 0x96, 0x01, 0x21, 1, 2, 3, 4, 5, 6, 7, 8, 0x2a, 0x01, 0x61, 0x2d, 1, 2, 3, 4, 0x33, 0x08, 0x01, 0x34];
    const decoded = CSI_METHODS.Node.NodeUnpublishVolume.request.decode(Buffer.from([...unknown, ...known, ...unknown]));
    expect(decoded).to.deep.equal({ volumeId: 'v', targetPath: '/t' });
  });

  it('refuses a string running past the end of the request', () => {
    expect(() => NODE_PUBLISH_VOLUME_REQUEST.decode(Buffer.from([0x0a, 0x05, 0x61]))).to.throw(ProtobufDecodeError, 'runs past the end');
  });
});
