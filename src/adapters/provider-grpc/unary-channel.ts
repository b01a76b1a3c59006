import { connect, constants, type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { connect as connectSocket } from 'node:net';
import { GrpcCallError, GrpcStatus, percentDecoded, statusFromHttp } from '../grpc-wire/grpc-status.js';
import type { UnaryMethod } from '../grpc-wire/protobuf-codec.js';
import { ResponseMessageReader } from './response-message-reader.js';

export interface UnaryChannelOptions {
  readonly socketPath: string;
  /** The largest response message accepted, in bytes; a larger one fails the call RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageSize: number;
  /** Sent as `user-agent`. */
  readonly userAgent: string;
}

/** The gRPC length prefix: a compressed flag and a 4-byte length. */
const FRAME_HEADER_BYTES = 5;
/** setTimeout's largest delay (about 24.8 days): a later deadline fires then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Unary gRPC calls over plaintext HTTP/2 on a unix socket, without compression. One HTTP/2 session
 * serves every call; once it has ended (the peer closed it, sent GOAWAY, or it never connected) the
 * next call opens a new one. Every failure is a GrpcCallError whose code follows what grpc-js gives
 * for the same event: connection failures are UNAVAILABLE, a passed deadline DEADLINE_EXCEEDED,
 * an aborted signal CANCELLED (the peer sees RST_STREAM CANCEL in both cases).
 */
export class UnaryChannel {
  private connection: Connection | undefined;
  private closed = false;

  constructor(private readonly options: UnaryChannelOptions) {}

  /** `signal` aborted gives CANCELLED; bytes fields of the answer are views of the received data. */
  call<Request, Response>(method: UnaryMethod<Request, Response>, request: Request, deadline: Date, signal?: AbortSignal): Promise<Response> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new GrpcCallError(GrpcStatus.UNAVAILABLE, 'Channel has been shut down'));
      if (signal?.aborted) return reject(cancelledOnClient());
      const timeoutMs = deadline.getTime() - Date.now();
      if (timeoutMs <= 0) return reject(deadlineExceeded());
      const frame = method.request.encode(request, FRAME_HEADER_BYTES);
      frame[0] = 0;
      frame.writeUInt32BE(frame.length - FRAME_HEADER_BYTES, 1);
      const connection = this.openConnection();
      let stream: ClientHttp2Stream;
      try {
        stream = connection.session.request(
          {
            ':method': 'POST',
            ':scheme': 'http',
            ':authority': 'localhost', // some providers reject any other (the upstream driver's dialer sends it)
            ':path': method.path,
            'content-type': 'application/grpc',
            te: 'trailers',
            'grpc-timeout': grpcTimeout(timeoutMs),
            'grpc-accept-encoding': 'identity',
            'user-agent': this.options.userAgent,
          },
          { endStream: false },
        );
      } catch (error) {
        connection.session.destroy();
        return reject(new GrpcCallError(GrpcStatus.UNAVAILABLE, `Stream creation failed: ${(error as Error).message}`));
      }
      connection.callStarted();

      const reader = new ResponseMessageReader(this.options.maxReceiveMessageSize);
      let httpStatus = 0;
      let trailers: { readonly error: GrpcCallError | undefined } | undefined;
      let streamError: (Error & { code?: string }) | undefined;
      let done = false;
      const end = (error: GrpcCallError | undefined): void => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        connection.callEnded();
        if (error !== undefined) return reject(error);
        const message = reader.message();
        if (message instanceof GrpcCallError) return reject(message);
        try {
          resolve(method.response.decode(message));
        } catch (decodeError) {
          reject(new GrpcCallError(GrpcStatus.INTERNAL, `Response message parsing error: ${(decodeError as Error).message}`));
        }
      };
      const cancel = (error: GrpcCallError): void => {
        if (!stream.destroyed) stream.close(constants.NGHTTP2_CANCEL);
        end(error);
      };
      const onAbort = (): void => cancel(cancelledOnClient());
      const timer = setTimeout(() => cancel(deadlineExceeded()), Math.min(timeoutMs, MAX_TIMER_MS));
      signal?.addEventListener('abort', onAbort, { once: true });

      const onTrailers = (headers: IncomingHttpHeaders): void => {
        trailers = { error: statusOf(headers, httpStatus) };
      };
      stream.on('response', (headers, flags) => {
        httpStatus = Number(headers[':status']);
        if (flags & constants.NGHTTP2_FLAG_END_STREAM) onTrailers(headers); // trailers-only: the status is in the headers
      });
      stream.on('trailers', onTrailers);
      stream.on('data', (chunk: Buffer) => {
        // A non-gRPC answer (an HTML error page, say) is not read: its HTTP status tells what happened.
        if (done || httpStatus !== 200) return;
        const error = reader.push(chunk);
        if (error !== undefined) cancel(error);
      });
      // Every message is read once the stream has ended: the status can be given.
      stream.on('end', () => {
        if (trailers !== undefined) end(trailers.error);
      });
      stream.on('error', (error: Error & { code?: string }) => {
        streamError = error;
      });
      stream.on('close', () => {
        if (trailers !== undefined) end(trailers.error);
        else end(closedWithoutStatus(stream.rstCode ?? constants.NGHTTP2_NO_ERROR, httpStatus, connection, streamError));
      });
      stream.end(frame);
    });
  }

  /** True once closed: every later call fails. */
  isClosed(): boolean {
    return this.closed;
  }

  /** Ends the session now, failing the calls under way (UNAVAILABLE) and every later one. */
  close(): void {
    this.closed = true;
    this.connection?.session.destroy();
    this.connection = undefined;
  }

  private openConnection(): Connection {
    if (this.connection?.usable()) return this.connection;
    const connection = new Connection(this.options.socketPath, () => {
      if (this.connection === connection) this.connection = undefined;
    });
    this.connection = connection;
    return connection;
  }
}

/**
 * One HTTP/2 session over a new socket connection. It keeps the process alive only while calls are
 * under way, so an idle client never holds up an exit.
 */
class Connection {
  readonly session: ClientHttp2Session;
  /** The session's error (a failed connect, a reset socket), once there was one. */
  failure: Error | undefined;
  private ended = false;
  private calls = 0;

  constructor(socketPath: string, onEnded: () => void) {
    this.session = connect('http://localhost', {
      createConnection: () => connectSocket(socketPath),
      // Past Node's default (10 MB held by the session) new streams are refused with ENHANCE_YOUR_CALM, which a
      // few 4 MiB answers in flight can reach; the payload memory budget is what bounds them (grpc-js lifts it too).
      maxSessionMemory: Number.MAX_SAFE_INTEGER,
    });
    this.session.unref();
    const ended = (): void => {
      this.ended = true;
      onEnded();
    };
    // The calls on the session see its failure through their streams.
    this.session.on('error', (error: Error) => {
      this.failure ??= error;
    });
    this.session.on('goaway', ended);
    this.session.on('close', ended);
  }

  usable(): boolean {
    return !this.ended && !this.session.closed && !this.session.destroyed;
  }

  /** Whether the session is gone: a call on it that had no status was dropped with it. */
  lost(): boolean {
    return this.ended || this.session.destroyed || this.failure !== undefined;
  }

  callStarted(): void {
    if (this.calls++ === 0) this.session.ref();
  }

  callEnded(): void {
    if (--this.calls === 0 && !this.session.destroyed) this.session.unref();
  }
}

/** The call's status from its trailers (or trailers-only headers); undefined for OK. */
function statusOf(headers: IncomingHttpHeaders, httpStatus: number): GrpcCallError | undefined {
  const code = headers['grpc-status'];
  if (code === undefined) {
    // The gRPC HTTP-to-status table applies only to answers without grpc-status.
    return httpStatus !== 200 ? statusFromHttp(httpStatus) : new GrpcCallError(GrpcStatus.UNKNOWN, 'No status information received');
  }
  if (typeof code !== 'string' || !/^\d{1,9}$/.test(code)) return new GrpcCallError(GrpcStatus.UNKNOWN, `Malformed grpc-status "${String(code).slice(0, 32)}"`);
  if (Number(code) === GrpcStatus.OK) return undefined;
  const message = headers['grpc-message'];
  return new GrpcCallError(Number(code), typeof message === 'string' ? percentDecoded(message) : '');
}

/** A stream that closed before its trailers: why, as grpc-js reports it. */
function closedWithoutStatus(rstCode: number, httpStatus: number, connection: Connection, streamError: (Error & { code?: string }) | undefined): GrpcCallError {
  if (rstCode === constants.NGHTTP2_REFUSED_STREAM) return new GrpcCallError(GrpcStatus.UNAVAILABLE, 'Stream refused by server');
  const ownStreamError = streamError?.code === 'ERR_HTTP2_STREAM_ERROR';
  if (connection.lost() || (streamError !== undefined && !ownStreamError)) {
    const cause = connection.failure ?? (ownStreamError ? undefined : streamError);
    return new GrpcCallError(GrpcStatus.UNAVAILABLE, cause === undefined ? 'Connection dropped' : `Connection dropped: ${cause.message}`);
  }
  switch (rstCode) {
    case constants.NGHTTP2_NO_ERROR:
      return httpStatus !== 0 && httpStatus !== 200
        ? statusFromHttp(httpStatus)
        : new GrpcCallError(GrpcStatus.INTERNAL, 'Received RST_STREAM with code 0 (Call ended without gRPC status)');
    case constants.NGHTTP2_CANCEL:
      return new GrpcCallError(GrpcStatus.CANCELLED, 'Call cancelled');
    case constants.NGHTTP2_ENHANCE_YOUR_CALM:
      return new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded');
    case constants.NGHTTP2_INADEQUATE_SECURITY:
      return new GrpcCallError(GrpcStatus.PERMISSION_DENIED, 'Protocol not secure enough');
    default:
      return new GrpcCallError(GrpcStatus.INTERNAL, `Received RST_STREAM with code ${rstCode}`);
  }
}

/** `grpc-timeout`: at most 8 digits, in the finest unit that fits (the gRPC HTTP/2 protocol's TimeoutValue). */
export function grpcTimeout(timeoutMs: number): string {
  for (const [unit, factor] of TIMEOUT_UNITS) {
    const amount = Math.ceil(timeoutMs / factor);
    if (amount < 1e8) return `${amount}${unit}`;
  }
  return '99999999H';
}

const TIMEOUT_UNITS: readonly (readonly [string, number])[] = [['m', 1], ['S', 1000], ['M', 60_000], ['H', 3_600_000]];

function deadlineExceeded(): GrpcCallError {
  return new GrpcCallError(GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded');
}

function cancelledOnClient(): GrpcCallError {
  return new GrpcCallError(GrpcStatus.CANCELLED, 'Cancelled on client');
}
