import { expect } from 'chai';
import fc from 'fast-check';
import { ProtobufDecodeError, type MessageCodec } from '../../src/adapters/grpc-wire/protobuf-codec.js';

/** Property: whatever the bytes, `codec` decodes them or throws a ProtobufDecodeError, nothing else. */
export function assertRefusesOnlyWithDecodeErrors(codec: MessageCodec<unknown>): void {
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 64 }), (input) => {
      try {
        codec.decode(Buffer.from(input));
      } catch (error) {
        expect(error).to.be.instanceOf(ProtobufDecodeError);
      }
    }),
  );
}
