import { constants, createServer, type Http2Server, type Http2Session, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { gunzip, inflate } from 'node:zlib';
import { GrpcStatus, MessageTooLargeError } from '../grpc-wire/grpc-status.js';
import type { UnaryMethod } from '../grpc-wire/protobuf-codec.js';
import type { GrpcFailure } from './error-status.js';
import type { UnaryHandler } from './unary-call.js';

/** grpc-js' default largest request message, which the driver has always kept. */
export const MAX_RECEIVE_MESSAGE_BYTES = 4 * 1024 * 1024;

/** The gRPC length prefix: a compressed flag and a 4-byte length. */
const FRAME_HEADER_BYTES = 5;

/** A method served: its codecs and its handler. */
export interface UnaryRoute {
  readonly method: UnaryMethod<unknown, unknown>;
  readonly handler: UnaryHandler<unknown, unknown>;
}

// What grpc-js answers with, which clients (kubelet, csi-sanity) have always seen.
const RESPONSE_HEADERS = {
  ':status': 200,
  'content-type': 'application/grpc+proto',
  'grpc-accept-encoding': 'identity,deflate,gzip',
  'grpc-encoding': 'identity',
};
const OK_TRAILERS = { 'grpc-status': '0', 'grpc-message': 'OK' };
/** grpc-timeout: up to 8 digits and a unit (RFC: Hours, Minutes, Seconds, millis, micros, nanos). */
const TIMEOUT_PATTERN = /^(\d{1,8})\s*([HMSmun])$/;
/** setTimeout's largest delay. */
const MAX_TIMER_MS = 2 ** 31 - 1;
const TIMEOUT_UNIT_MS: Readonly<Record<string, number>> = { H: 3_600_000, M: 60_000, S: 1_000, m: 1, u: 0.001, n: 0.000_001 };

/**
 * Unary gRPC over plaintext HTTP/2: each `:path` of `routes` is decoded, handled and answered; the
 * status codes and messages of every refusal (unknown method, oversized, malformed or missing request,
 * unsupported compression, passed deadline) are those grpc-js gives, so a client sees the same server.
 * A call the client cancels still runs to its end (as with grpc-js), and its answer is dropped.
 */
export class UnaryServer {
  private readonly http2: Http2Server;
  private readonly sessions = new Set<Http2Session>();

  constructor(private readonly routes: ReadonlyMap<string, UnaryRoute>) {
    // Past Node's default session memory (10 MB) streams are refused with ENHANCE_YOUR_CALM; grpc-js lifts it too.
    this.http2 = createServer({ maxSessionMemory: Number.MAX_SAFE_INTEGER });
    this.http2.on('session', (session) => {
      this.sessions.add(session);
      session.on('close', () => this.sessions.delete(session));
      // A peer that goes away mid-call: its streams see the error, the server carries on.
      session.on('error', () => undefined);
    });
    this.http2.on('stream', (stream, headers) => this.serve(stream, headers));
  }

  listen(socketPath: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.http2.once('error', reject);
      this.http2.listen(socketPath, () => {
        this.http2.off('error', reject);
        resolve();
      });
    });
  }

  /** Stops accepting, lets calls under way end for up to `graceMs` (GOAWAY), then cuts the rest off. */
  async close(graceMs: number): Promise<void> {
    const closed = new Promise<void>((resolve) => this.http2.close(() => resolve()));
    for (const session of this.sessions) session.close();
    // Destroyed with an error and CANCEL, as grpc-js' forceShutdown does: the calls still running end CANCELLED for their clients.
    const force = setTimeout(() => {
      for (const session of this.sessions) session.destroy(new Error('the server stopped before the call ended'), constants.NGHTTP2_CANCEL);
    }, graceMs);
    await closed;
    clearTimeout(force);
  }

  private serve(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): void {
    stream.on('error', () => undefined);
    const contentType = headers['content-type'];
    if (headers[':method'] !== 'POST' || typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) {
      stream.respond({ ':status': constants.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE }, { endStream: true });
      return;
    }
    const path = headers[':path'] ?? '';
    const target = this.routes.get(path);
    if (target === undefined) return answerFailure(stream, { code: GrpcStatus.UNIMPLEMENTED, details: `The server does not implement the method ${path}` });
    new UnaryCall(stream, headers, path, target).start();
  }
}

/** One call: its request gathered, decoded and handled, its answer written unless the stream is gone. */
class UnaryCall {
  private readonly chunks: Buffer[] = [];
  private received = 0;
  /** The announced request length, once the prefix is in. */
  private length = -1;
  private answered = false;
  private deadline: NodeJS.Timeout | undefined;

  constructor(
    private readonly stream: ServerHttp2Stream,
    private readonly headers: IncomingHttpHeaders,
    private readonly path: string,
    private readonly target: UnaryRoute,
  ) {}

  start(): void {
    const timeout = this.headers['grpc-timeout'];
    if (typeof timeout === 'string') {
      const match = TIMEOUT_PATTERN.exec(timeout);
      if (match === null) return this.fail(GrpcStatus.INTERNAL, `Invalid grpc-timeout value "${timeout}"`);
      const ms = Number(match[1]) * TIMEOUT_UNIT_MS[match[2]!]!;
      // A timeout past setTimeout's range (some 24.8 days) would fire at once: such a call has no deadline.
      if (ms <= MAX_TIMER_MS) this.deadline = setTimeout(() => this.fail(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded'), ms);
    }
    this.stream.on('close', () => this.settle());
    this.stream.on('data', (chunk: Buffer) => this.take(chunk));
    this.stream.on('end', () => {
      // handle() answers every failure itself; a throw left (a stream gone mid-write) only ends the stream.
      if (!this.answered) this.handle().catch(() => this.stream.destroy());
    });
  }

  private take(chunk: Buffer): void {
    if (this.answered) return;
    this.chunks.push(chunk);
    this.received += chunk.length;
    if (this.length < 0 && this.received >= FRAME_HEADER_BYTES) {
      this.length = this.prefix().readUInt32BE(1);
      if (this.length > MAX_RECEIVE_MESSAGE_BYTES) {
        this.chunks.length = 0;
        const refusal = new MessageTooLargeError(this.length, MAX_RECEIVE_MESSAGE_BYTES);
        return this.fail(refusal.code, refusal.details);
      }
    }
    if (this.length >= 0 && this.received > FRAME_HEADER_BYTES + this.length) {
      this.chunks.length = 0;
      this.fail(GrpcStatus.UNIMPLEMENTED, `Received a second request message for server streaming method ${this.path}`);
    }
  }

  /** The first bytes received, holding the length prefix. */
  private prefix(): Buffer {
    return this.chunks[0]!.length >= FRAME_HEADER_BYTES ? this.chunks[0]! : Buffer.concat(this.chunks);
  }

  private async handle(): Promise<void> {
    if (this.length < 0 || this.received < FRAME_HEADER_BYTES + this.length) {
      return this.fail(GrpcStatus.UNIMPLEMENTED, `Received no request message for server streaming method ${this.path}`);
    }
    const frame = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.received);
    this.chunks.length = 0;
    const message = await this.decompressed(frame);
    if (message === undefined) return;
    let request: unknown;
    try {
      request = this.target.method.request.decode(message);
    } catch {
      return this.fail(GrpcStatus.INTERNAL, 'Error deserializing request');
    }
    const outcome = await this.target.handler(request);
    if ('failure' in outcome) return this.answerFailure(outcome.failure);
    let answer: Buffer;
    try {
      answer = this.target.method.response.encode(outcome.response, FRAME_HEADER_BYTES);
    } catch {
      return this.fail(GrpcStatus.INTERNAL, 'Error serializing response');
    }
    answer[0] = 0;
    answer.writeUInt32BE(answer.length - FRAME_HEADER_BYTES, 1);
    if (!this.settle()) return;
    this.stream.respond(RESPONSE_HEADERS, { waitForTrailers: true });
    this.stream.once('wantTrailers', () => this.stream.sendTrailers(OK_TRAILERS));
    this.stream.end(answer);
  }

  /** The message of `frame`, decompressed as its flag and `grpc-encoding` say; undefined once refused. */
  private async decompressed(frame: Buffer): Promise<Buffer | undefined> {
    const message = frame.subarray(FRAME_HEADER_BYTES);
    const encoding = this.headers['grpc-encoding'] ?? 'identity';
    if (frame[0] === 0 || encoding === 'identity') return message;
    if (encoding !== 'gzip' && encoding !== 'deflate') {
      this.fail(GrpcStatus.UNIMPLEMENTED, `Received message compressed with unsupported encoding "${String(encoding)}"`);
      return undefined;
    }
    const decompress = encoding === 'gzip' ? gunzip : inflate;
    return new Promise((resolve) => {
      decompress(message, { maxOutputLength: MAX_RECEIVE_MESSAGE_BYTES }, (error, result) => {
        if (error === null) return resolve(result);
        if ((error as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE') {
          this.fail(GrpcStatus.RESOURCE_EXHAUSTED, `Received message that decompresses to a size larger than ${MAX_RECEIVE_MESSAGE_BYTES}`);
        } else {
          this.fail(GrpcStatus.INTERNAL, 'Failed to decompress message');
        }
        resolve(undefined);
      });
    });
  }

  private fail(code: number, details: string): void {
    this.answerFailure({ code, details });
  }

  private answerFailure(failure: GrpcFailure): void {
    if (!this.settle()) return;
    answerFailure(this.stream, failure);
    // Refused before the whole request came (too large, say): RST_STREAM NO_ERROR asks the client to stop
    // sending the rest, as HTTP/2 allows once the response is complete (RFC 9113, 8.1).
    if (!this.stream.readableEnded) this.stream.close(constants.NGHTTP2_NO_ERROR);
  }

  /** Marks the call answered: true when the answer is still to be written and the stream can take it. */
  private settle(): boolean {
    if (this.answered) return false;
    this.answered = true;
    clearTimeout(this.deadline);
    return !this.stream.destroyed && !this.stream.closed;
  }
}

/** A trailers-only answer: the status in the response headers, no message. */
function answerFailure(stream: ServerHttp2Stream, failure: GrpcFailure): void {
  stream.respond(
    { ':status': 200, 'content-type': 'application/grpc+proto', 'grpc-status': String(failure.code), 'grpc-message': encodeURI(wellFormed(failure.details)) },
    { endStream: true },
  );
}

/** `text` with each lone surrogate replaced by U+FFFD, which encodeURI would throw on. */
function wellFormed(text: string): string {
  return text.replace(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g, '\uFFFD');
}
