import { GrpcCallError, GrpcStatus, MessageTooLargeError } from '../grpc-wire/grpc-status.js';

const FRAME_HEADER_BYTES = 5;

/**
 * The one length-prefixed message of a unary answer, gathered from its DATA chunks. Refuses, as soon
 * as the prefix tells, a compressed message (the client accepts only identity) and one over the size
 * limit, so an oversized answer is never buffered whole.
 */
export class ResponseMessageReader {
  private readonly chunks: Buffer[] = [];
  private received = 0;
  /** The announced message length, once the prefix is in. */
  private length = -1;

  constructor(private readonly maxMessageSize: number) {}

  /** Takes one chunk; a GrpcCallError when the answer is refused. */
  push(chunk: Buffer): GrpcCallError | undefined {
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.length < 0 && this.received >= FRAME_HEADER_BYTES) {
      const prefix = this.chunks[0]!.length >= FRAME_HEADER_BYTES ? this.chunks[0]! : Buffer.concat(this.chunks);
      if (prefix[0] !== 0) {
        return new GrpcCallError(GrpcStatus.INTERNAL, `Received a message with compressed flag ${prefix[0]}, but no compression was accepted (grpc-accept-encoding: identity)`);
      }
      this.length = prefix.readUInt32BE(1);
      if (this.length > this.maxMessageSize) return new MessageTooLargeError(this.length, this.maxMessageSize);
    }
    if (this.length >= 0 && this.received > FRAME_HEADER_BYTES + this.length) {
      return new GrpcCallError(GrpcStatus.UNIMPLEMENTED, 'Too many responses received');
    }
    return undefined;
  }

  /** The message, or why there is none, once the answer has ended with status OK. */
  message(): Buffer | GrpcCallError {
    if (this.received === 0) return new GrpcCallError(GrpcStatus.UNIMPLEMENTED, 'No message received');
    if (this.length < 0 || this.received < FRAME_HEADER_BYTES + this.length) {
      return new GrpcCallError(GrpcStatus.INTERNAL, `The answer ended inside a message (${this.received} bytes received)`);
    }
    const data = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    return data.subarray(FRAME_HEADER_BYTES);
  }
}
