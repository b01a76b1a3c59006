import { literalField, type HeaderFields } from '../grpc-wire/hpack.js';
import { GrpcCallError, GrpcStatus, percentDecoded, statusFromHttp } from '../grpc-wire/grpc-status.js';
import type { UnaryMethod } from '../grpc-wire/protobuf-codec.js';
import { ErrorCode, Http2ClientSession, type StreamHandler } from './http2-client-session.js';
import { ResponseMessageReader } from './response-message-reader.js';

export interface UnaryChannelOptions {
  readonly socketPath: string;
  /** The largest response message accepted, in bytes; a larger one fails the call RESOURCE_EXHAUSTED. */
  readonly maxReceiveMessageSize: number;
  /** Sent as `user-agent`. */
  readonly userAgent: string;
}

/** The gRPC length prefix: a compressed flag and a 4-byte length. */
const MESSAGE_PREFIX_BYTES = 5;
const FRAME_HEADER_BYTES = 9;
/** setTimeout's largest delay (about 24.8 days): a later deadline fires then. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Unary gRPC calls over plaintext HTTP/2 on a unix socket, without compression, on the driver's own
 * HTTP/2 client (`Http2ClientSession`). One session serves every call; once it has ended (the peer
 * closed it, sent GOAWAY, or it never connected) the next call opens a new one. Every failure is a
 * GrpcCallError whose code follows what grpc-js gives for the same event: connection failures are
 * UNAVAILABLE, a passed deadline DEADLINE_EXCEEDED, an aborted signal CANCELLED (the peer sees
 * RST_STREAM CANCEL in both cases).
 */
export class UnaryChannel {
  private session: Http2ClientSession | undefined;
  private closed = false;
  /** The request header block of each method path, up to `grpc-timeout`'s value. */
  private readonly headerBlocks = new Map<string, Buffer>();
  /** Calls waiting for the peer's concurrent stream limit to leave room, and how each starts. */
  private readonly waiting: { readonly call: PendingCall; readonly start: (session: Http2ClientSession) => void }[] = [];

  constructor(private readonly options: UnaryChannelOptions) {}

  /** `signal` aborted gives CANCELLED; bytes fields of the answer are views of the received data. */
  call<Request, Response>(method: UnaryMethod<Request, Response>, request: Request, deadline: Date, signal?: AbortSignal): Promise<Response> {
    return new Promise((resolve, reject) => {
      if (this.closed) return reject(new GrpcCallError(GrpcStatus.UNAVAILABLE, 'Channel has been shut down'));
      if (signal?.aborted) return reject(cancelledOnClient());
      const timeoutMs = deadline.getTime() - Date.now();
      if (timeoutMs <= 0) return reject(deadlineExceeded());
      const call = new UnaryCall(this, method, resolve, reject, signal, timeoutMs);
      const session = this.openSession();
      if (session.hasRoom() && this.waiting.length === 0) this.start(call, session, request);
      else this.waiting.push({ call, start: (room) => this.start(call, room, request) });
    });
  }

  /** True once closed: every later call fails. */
  isClosed(): boolean {
    return this.closed;
  }

  /** Ends the session now, failing the calls under way (UNAVAILABLE) and every later one. */
  close(): void {
    this.closed = true;
    const session = this.session;
    this.session = undefined;
    session?.destroy();
    for (const { call } of this.waiting.splice(0)) call.fail(new GrpcCallError(GrpcStatus.UNAVAILABLE, 'Channel has been shut down'));
  }

  /** A call has ended: one waiting for room may start. */
  callEnded(): void {
    while (this.waiting.length > 0) {
      const next = this.waiting[0]!;
      if (next.call.settled) {
        this.waiting.shift();
        continue;
      }
      if (this.closed) return;
      const session = this.openSession();
      if (!session.hasRoom()) return;
      this.waiting.shift();
      next.start(session);
    }
  }

  private start<Request, Response>(call: UnaryCall<Request, Response>, session: Http2ClientSession, request: Request): void {
    const block = this.headerBlock(call.method.path);
    const timeout = grpcTimeout(call.timeoutMs);
    // One buffer: HEADERS frame, its block, DATA frame header, message prefix, message.
    const blockBytes = block.length + 1 + timeout.length;
    const bodyStart = FRAME_HEADER_BYTES + blockBytes + FRAME_HEADER_BYTES;
    const message = call.method.request.encode(request, bodyStart + MESSAGE_PREFIX_BYTES);
    block.copy(message, FRAME_HEADER_BYTES);
    let at = FRAME_HEADER_BYTES + block.length;
    message[at++] = timeout.length;
    message.write(timeout, at, 'latin1');
    message[bodyStart] = 0;
    message.writeUInt32BE(message.length - bodyStart - MESSAGE_PREFIX_BYTES, bodyStart + 1);
    call.started(session, session.open(call, message, blockBytes, bodyStart));
  }

  private headerBlock(path: string): Buffer {
    let block = this.headerBlocks.get(path);
    if (block === undefined) {
      block = Buffer.concat([
        Buffer.from([0x83, 0x86]), // :method POST, :scheme http (static table entries 3 and 6)
        literalField(':path', path),
        literalField(':authority', 'localhost'), // some providers reject any other (the upstream driver's dialer sends it)
        literalField('content-type', 'application/grpc'),
        literalField('te', 'trailers'),
        literalField('grpc-accept-encoding', 'identity'),
        literalField('user-agent', this.options.userAgent),
        // grpc-timeout's value (under 127 bytes, so its length is one byte) is added per call.
        literalField('grpc-timeout', '').subarray(0, -1),
      ]);
      this.headerBlocks.set(path, block);
    }
    return block;
  }

  private openSession(): Http2ClientSession {
    if (this.session?.usable()) return this.session;
    const session = new Http2ClientSession(this.options.socketPath, (ended) => {
      if (this.session === ended) this.session = undefined;
    });
    this.session = session;
    return session;
  }

  /** The receive limit of every call. */
  get maxReceiveMessageSize(): number {
    return this.options.maxReceiveMessageSize;
  }
}

/**
 * One call: its stream's handler, deadline and cancellation. The abort listener is the call itself
 * (`handleEvent`), and the deadline timer gets the call as its argument: no closures per call.
 */
class UnaryCall<Request, Response> implements StreamHandler {
  settled = false;
  private session: Http2ClientSession | undefined;
  private streamId = 0;
  private httpStatus = 0;
  /** The status the trailers gave (undefined: OK), once they came. */
  private trailers: { readonly error: GrpcCallError | undefined } | undefined;
  private readonly reader: ResponseMessageReader;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly channel: UnaryChannel,
    readonly method: UnaryMethod<Request, Response>,
    private readonly resolve: (response: Response) => void,
    private readonly reject: (error: GrpcCallError) => void,
    private readonly signal: AbortSignal | undefined,
    readonly timeoutMs: number,
  ) {
    this.reader = new ResponseMessageReader(channel.maxReceiveMessageSize);
    this.timer = setTimeout(expire, Math.min(timeoutMs, MAX_TIMER_MS), this);
    signal?.addEventListener('abort', this, { once: true });
  }

  started(session: Http2ClientSession, streamId: number): void {
    this.session = session;
    this.streamId = streamId;
  }

  onHeaders(fields: HeaderFields, endStream: boolean): void {
    if (this.httpStatus === 0) {
      this.httpStatus = Number(fields.get(':status')) || -1;
      // Trailers-only: the status is in the headers.
      if (endStream) this.settle(statusOf(fields, this.httpStatus), false);
      return;
    }
    this.trailers = { error: statusOf(fields, this.httpStatus) };
    if (endStream) this.settle(this.trailers.error, false);
  }

  onData(payload: Buffer, endStream: boolean): void {
    // A non-gRPC answer (an HTML error page, say) is not read: its HTTP status tells what happened.
    if (this.httpStatus === 200 && !this.settled) {
      const error = this.reader.push(payload);
      if (error !== undefined) return this.cancel(error);
    }
    if (endStream) this.settle(this.trailers !== undefined ? this.trailers.error : endedWithoutStatus(this.httpStatus), false);
  }

  onReset(code: number): void {
    this.settle(this.trailers !== undefined ? this.trailers.error : resetStatus(code, this.httpStatus), false);
  }

  onSessionLost(cause: Error | undefined): void {
    this.settle(new GrpcCallError(GrpcStatus.UNAVAILABLE, cause === undefined ? 'Connection dropped' : `Connection dropped: ${cause.message}`), false);
  }

  /** The signal aborted. */
  handleEvent(): void {
    this.cancel(cancelledOnClient());
  }

  /** Fails a call that never got a stream. */
  fail(error: GrpcCallError): void {
    this.settle(error, false);
  }

  /** Ends the call from this side: the peer sees RST_STREAM CANCEL. */
  cancel(error: GrpcCallError): void {
    this.settle(error, true);
  }

  private settle(error: GrpcCallError | undefined, resetStream: boolean): void {
    if (this.settled) return;
    this.settled = true;
    clearTimeout(this.timer);
    this.signal?.removeEventListener('abort', this);
    if (resetStream && this.session !== undefined) this.session.reset(this.streamId, ErrorCode.CANCEL);
    this.channel.callEnded();
    if (error !== undefined) return this.reject(error);
    const message = this.reader.message();
    if (message instanceof GrpcCallError) return this.reject(message);
    try {
      this.resolve(this.method.response.decode(message));
    } catch (decodeError) {
      this.reject(new GrpcCallError(GrpcStatus.INTERNAL, `Response message parsing error: ${(decodeError as Error).message}`));
    }
  }
}

/** A call as the channel's queue and the deadline timer see it. */
interface PendingCall {
  readonly settled: boolean;
  fail(error: GrpcCallError): void;
  cancel(error: GrpcCallError): void;
}

function expire(call: PendingCall): void {
  call.cancel(deadlineExceeded());
}

/** The call's status from its trailers (or trailers-only headers); undefined for OK. */
function statusOf(headers: HeaderFields, httpStatus: number): GrpcCallError | undefined {
  const code = headers.get('grpc-status');
  if (code === undefined) {
    // The gRPC HTTP-to-status table applies only to answers without grpc-status.
    return httpStatus !== 200 ? statusFromHttp(httpStatus) : new GrpcCallError(GrpcStatus.UNKNOWN, 'No status information received');
  }
  if (!/^\d{1,9}$/.test(code)) return new GrpcCallError(GrpcStatus.UNKNOWN, `Malformed grpc-status "${code.slice(0, 32)}"`);
  if (Number(code) === GrpcStatus.OK) return undefined;
  const message = headers.get('grpc-message');
  return new GrpcCallError(Number(code), message !== undefined ? percentDecoded(message) : '');
}

/** An answer that ended without trailers: an HTTP error status tells why, else it is grpc-js' "ended without status". */
function endedWithoutStatus(httpStatus: number): GrpcCallError {
  return httpStatus > 0 && httpStatus !== 200
    ? statusFromHttp(httpStatus)
    : new GrpcCallError(GrpcStatus.INTERNAL, 'Received RST_STREAM with code 0 (Call ended without gRPC status)');
}

/** A stream the peer reset before its trailers: why, as grpc-js reports it. */
function resetStatus(code: number, httpStatus: number): GrpcCallError {
  switch (code) {
    case ErrorCode.NO_ERROR:
      return endedWithoutStatus(httpStatus);
    case ErrorCode.REFUSED_STREAM:
      return new GrpcCallError(GrpcStatus.UNAVAILABLE, 'Stream refused by server');
    case ErrorCode.CANCEL:
      return new GrpcCallError(GrpcStatus.CANCELLED, 'Call cancelled');
    case ErrorCode.ENHANCE_YOUR_CALM:
      return new GrpcCallError(GrpcStatus.RESOURCE_EXHAUSTED, 'Bandwidth exhausted or memory limit exceeded');
    case ErrorCode.INADEQUATE_SECURITY:
      return new GrpcCallError(GrpcStatus.PERMISSION_DENIED, 'Protocol not secure enough');
    default:
      return new GrpcCallError(GrpcStatus.INTERNAL, `Received RST_STREAM with code ${code}`);
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
