import { createServer, type Http2Server, type ServerOptions, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { expect } from 'chai';
import { GrpcCallError } from '../../src/adapters/grpc-wire/grpc-status.js';
import { VERSION_RESPONSE, type VersionResponse } from '../../src/adapters/provider-grpc/provider-messages.js';

/** What the peer answers Version with unless told otherwise. */
export const PEER_VERSION: VersionResponse = { version: 'v1alpha1', runtimeName: 'test-peer', runtimeVersion: '1.0.0' };
export const GRPC_HEADERS = { ':status': 200, 'content-type': 'application/grpc' };

/** The GrpcCallError a call fails with (and a test failure when it succeeds or fails otherwise). */
export async function failureOf(promise: Promise<unknown>): Promise<GrpcCallError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(GrpcCallError);
    return error as GrpcCallError;
  }
  throw new Error('expected a rejection');
}

/** One gRPC message with its 5-byte prefix. */
export function framed(message: Buffer, compressedFlag = 0): Buffer {
  const prefix = Buffer.alloc(5);
  prefix[0] = compressedFlag;
  prefix.writeUInt32BE(message.length, 1);
  return Buffer.concat([prefix, message]);
}

/** Answers a call as a gRPC server does: headers, the message, trailers with status OK. */
export function answer(stream: ServerHttp2Stream, body: Buffer = framed(VERSION_RESPONSE.encode(PEER_VERSION))): void {
  stream.respond(GRPC_HEADERS, { waitForTrailers: true });
  stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
  stream.end(body);
}

export interface SeenCall {
  readonly headers: IncomingHttpHeaders;
  readonly stream: ServerHttp2Stream;
  /** The stream's RST_STREAM code once it closed. */
  readonly closed: Promise<number>;
  /** The request body, once it has all come. */
  body: Buffer;
}

/** An HTTP/2 server on a unix socket whose answers each test writes by hand, as a gRPC provider would or would not. */
export class TestPeer {
  readonly calls: SeenCall[] = [];
  readonly sessions: ServerHttp2Session[] = [];
  private constructor(private readonly server: Http2Server) {}

  /** `options` adds to the server's (its SETTINGS, padding). */
  static async listen(socketPath: string, handle: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, call: number) => void, options: ServerOptions = {}): Promise<TestPeer> {
    const server = createServer({ maxSessionMemory: Number.MAX_SAFE_INTEGER, ...options }); // answers of several MiB at once
    const peer = new TestPeer(server);
    server.on('session', (session) => peer.sessions.push(session));
    server.on('stream', (stream, headers) => {
      const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode)));
      const body: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => body.push(chunk));
      stream.on('error', () => undefined); // a reset the test provokes
      const call = { headers, stream, closed, body: Buffer.alloc(0) };
      peer.calls.push(call);
      // The request is read in full before the answer, as a gRPC server does for a unary call.
      const callNumber = peer.calls.length;
      stream.on('end', () => {
        call.body = Buffer.concat(body);
        handle(stream, headers, callNumber);
      });
    });
    await new Promise<void>((resolve) => server.listen(socketPath, resolve));
    return peer;
  }

  async stop(): Promise<void> {
    for (const session of this.sessions) session.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

