import { connect, type Socket } from 'node:net';
import { HpackDecoder, HpackError, type HeaderFields } from '../grpc-wire/hpack.js';

/** What a session tells one of its streams. */
export interface StreamHandler {
  /** A complete header block: the response headers, or the trailers; `endStream` when it ends the answer. */
  onHeaders(fields: HeaderFields, endStream: boolean): void;
  /** DATA payload (a view of the received bytes, valid until the handler returns). */
  onData(payload: Buffer, endStream: boolean): void;
  /** The peer reset the stream with this error code. */
  onReset(code: number): void;
  /** The session ended before the stream did: `cause` is the socket's or protocol's error, if any. */
  onSessionLost(cause: Error | undefined): void;
}

const FRAME_HEADER = 9;
const enum FrameType {
  DATA = 0,
  HEADERS = 1,
  PRIORITY = 2,
  RST_STREAM = 3,
  SETTINGS = 4,
  PUSH_PROMISE = 5,
  PING = 6,
  GOAWAY = 7,
  WINDOW_UPDATE = 8,
  CONTINUATION = 9,
}
const FLAG_END_STREAM = 0x1;
const FLAG_ACK = 0x1;
const FLAG_END_HEADERS = 0x4;
const FLAG_PADDED = 0x8;
const FLAG_PRIORITY = 0x20;

export const enum ErrorCode {
  NO_ERROR = 0x0,
  PROTOCOL_ERROR = 0x1,
  FLOW_CONTROL_ERROR = 0x3,
  FRAME_SIZE_ERROR = 0x6,
  REFUSED_STREAM = 0x7,
  CANCEL = 0x8,
  COMPRESSION_ERROR = 0x9,
  ENHANCE_YOUR_CALM = 0xb,
  INADEQUATE_SECURITY = 0xc,
}

const SETTINGS_ENABLE_PUSH = 0x2;
const SETTINGS_MAX_CONCURRENT_STREAMS = 0x3;
const SETTINGS_INITIAL_WINDOW_SIZE = 0x4;
const SETTINGS_MAX_FRAME_SIZE = 0x5;

const DEFAULT_WINDOW = 65_535;
const DEFAULT_MAX_FRAME = 16_384;
const MAX_WINDOW = 2 ** 31 - 1;
const LAST_STREAM_ID = 2 ** 31 - 1;
/** This side's HPACK table, as HTTP/2 sets it by default. */
const HEADER_TABLE_BYTES = 4096;
/** One header block, CONTINUATIONs included, and its decoded list: well past any gRPC answer's. */
const MAX_HEADER_BLOCK_BYTES = 64 * 1024;
/** Received DATA is credited back once this much has come in, so the peer never waits on this side's window. */
const WINDOW_REFILL = 2 ** 30;

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

/**
 * The opening bytes: the preface, SETTINGS (no push, the largest stream window) and the connection
 * window raised to the largest. Answers are bounded by the receive limit per call, not by flow control.
 */
const OPENING: Buffer = (() => {
  const settings = [
    [SETTINGS_ENABLE_PUSH, 0],
    [SETTINGS_INITIAL_WINDOW_SIZE, MAX_WINDOW],
  ] as const;
  const settingsFrame = frame(FrameType.SETTINGS, 0, 0, settings.length * 6);
  settings.forEach(([id, value], i) => {
    settingsFrame.writeUInt16BE(id, FRAME_HEADER + i * 6);
    settingsFrame.writeUInt32BE(value, FRAME_HEADER + i * 6 + 2);
  });
  const windowUpdate = frame(FrameType.WINDOW_UPDATE, 0, 0, 4);
  windowUpdate.writeUInt32BE(MAX_WINDOW - DEFAULT_WINDOW, FRAME_HEADER);
  return Buffer.concat([PREFACE, settingsFrame, windowUpdate]);
})();

/** A frame of `payloadBytes` with its header written and the payload left to fill. */
function frame(type: FrameType, flags: number, streamId: number, payloadBytes: number): Buffer {
  const out = Buffer.allocUnsafe(FRAME_HEADER + payloadBytes);
  writeFrameHeader(out, 0, type, flags, streamId, payloadBytes);
  return out;
}

function writeFrameHeader(out: Buffer, at: number, type: number, flags: number, streamId: number, payloadBytes: number): void {
  out[at] = payloadBytes >>> 16;
  out[at + 1] = (payloadBytes >>> 8) & 0xff;
  out[at + 2] = payloadBytes & 0xff;
  out[at + 3] = type;
  out[at + 4] = flags;
  out.writeUInt32BE(streamId, at + 5);
}

/** One open stream: its handler and the request bytes still held back by flow control. */
interface OpenStream {
  readonly handler: StreamHandler;
  sendWindow: number;
  /** Request body not yet sent (the peer's windows were too small), and whether END_STREAM goes with its end. */
  pending: Buffer | undefined;
}

/**
 * The client side of one HTTP/2 connection over a unix socket, as a unary gRPC client needs it: it opens
 * streams, sends each request's HEADERS and DATA within the peer's flow-control windows and frame size,
 * and hands what comes back to each stream's handler. It answers SETTINGS and PING, credits received
 * DATA back in large steps, and ends on GOAWAY once its streams are done. The socket keeps the process
 * alive only while streams are open.
 */
export class Http2ClientSession {
  /** Set once the session takes no new streams (GOAWAY, an error, closed, out of stream ids). */
  private draining = false;
  private ended = false;
  /** The first error: the socket's, or the protocol error this side found. */
  private failure: Error | undefined;
  private readonly socket: Socket;
  private readonly streams = new Map<number, OpenStream>();
  private readonly decoder = new HpackDecoder(HEADER_TABLE_BYTES, MAX_HEADER_BLOCK_BYTES);
  private nextStreamId = 1;
  private peerMaxFrame = DEFAULT_MAX_FRAME;
  private peerInitialWindow = DEFAULT_WINDOW;
  private peerMaxStreams = Number.POSITIVE_INFINITY;
  private connectionSendWindow = DEFAULT_WINDOW;
  private receivedSinceRefill = 0;
  /** Bytes of a frame not complete yet. */
  private partial: Buffer | undefined;
  /** A header block being continued: its stream, flags, and fragments. */
  private continued: { streamId: number; endStream: boolean; fragments: Buffer[]; bytes: number } | undefined;

  constructor(socketPath: string, private readonly onEnded: (session: Http2ClientSession) => void) {
    this.socket = connect(socketPath);
    this.socket.unref();
    this.socket.write(OPENING);
    this.socket.on('data', (chunk: Buffer) => this.received(chunk));
    this.socket.on('error', (error: Error) => {
      this.failure ??= error;
    });
    this.socket.on('close', () => this.end());
  }

  /** Whether a new stream may start on this session now. */
  usable(): boolean {
    return !this.draining && !this.ended;
  }

  /** Whether the peer's SETTINGS_MAX_CONCURRENT_STREAMS leaves room for one more stream. */
  hasRoom(): boolean {
    return this.streams.size < this.peerMaxStreams;
  }

  /**
   * Opens a stream and sends its request: `message` holds the HEADERS frame's header at 0, its
   * `blockBytes` of HPACK block from 9, DATA's frame header just before `bodyStart`, then the body,
   * which ends the stream. Both frame headers are written here.
   */
  open(handler: StreamHandler, message: Buffer, blockBytes: number, bodyStart: number): number {
    const id = this.nextStreamId;
    this.nextStreamId += 2;
    if (this.nextStreamId > LAST_STREAM_ID) this.draining = true;
    const stream: OpenStream = { handler, sendWindow: this.peerInitialWindow, pending: undefined };
    this.streams.set(id, stream);
    if (this.streams.size === 1) this.socket.ref();
    const bodyBytes = message.length - bodyStart;
    if (blockBytes <= this.peerMaxFrame && bodyBytes <= this.peerMaxFrame && bodyBytes <= this.connectionSendWindow && bodyBytes <= stream.sendWindow) {
      // The usual case: both frames in one write.
      writeFrameHeader(message, 0, FrameType.HEADERS, FLAG_END_HEADERS, id, blockBytes);
      writeFrameHeader(message, bodyStart - FRAME_HEADER, FrameType.DATA, FLAG_END_STREAM, id, bodyBytes);
      this.connectionSendWindow -= bodyBytes;
      stream.sendWindow -= bodyBytes;
      this.socket.write(message);
      return id;
    }
    this.writeHeaderBlock(id, message.subarray(FRAME_HEADER, FRAME_HEADER + blockBytes));
    stream.pending = message.subarray(bodyStart);
    this.flush(id, stream);
    return id;
  }

  /** Ends a stream from this side (RST_STREAM), e.g. CANCEL; its handler hears nothing more. */
  reset(id: number, code: ErrorCode): void {
    if (!this.streams.delete(id)) return;
    if (!this.ended) {
      const rst = frame(FrameType.RST_STREAM, 0, id, 4);
      rst.writeUInt32BE(code, FRAME_HEADER);
      this.socket.write(rst);
    }
    this.streamClosed();
  }

  /** Ends the connection now: the open streams hear the session is lost. */
  destroy(): void {
    this.socket.destroy();
    this.end();
  }

  private writeHeaderBlock(id: number, block: Buffer): void {
    let at = 0;
    let type = FrameType.HEADERS;
    do {
      const bytes = Math.min(this.peerMaxFrame, block.length - at);
      const last = at + bytes === block.length;
      const out = frame(type, last ? FLAG_END_HEADERS : 0, id, bytes);
      block.copy(out, FRAME_HEADER, at, at + bytes);
      this.socket.write(out);
      at += bytes;
      type = FrameType.CONTINUATION;
    } while (at < block.length);
  }

  /** Sends what the windows allow of a stream's held-back body. */
  private flush(id: number, stream: OpenStream): void {
    let pending = stream.pending!;
    for (;;) {
      // A window can be below 0 after the peer shrank SETTINGS_INITIAL_WINDOW_SIZE: nothing goes then.
      const bytes = Math.max(0, Math.min(pending.length, this.peerMaxFrame, this.connectionSendWindow, stream.sendWindow));
      if (bytes === 0 && pending.length > 0) break;
      const last = bytes === pending.length;
      const out = frame(FrameType.DATA, last ? FLAG_END_STREAM : 0, id, bytes);
      pending.copy(out, FRAME_HEADER, 0, bytes);
      this.socket.write(out);
      this.connectionSendWindow -= bytes;
      stream.sendWindow -= bytes;
      pending = pending.subarray(bytes);
      if (last) {
        stream.pending = undefined;
        return;
      }
    }
    stream.pending = pending;
  }

  private flushAll(): void {
    for (const [id, stream] of this.streams) if (stream.pending !== undefined) this.flush(id, stream);
  }

  private streamClosed(): void {
    if (this.streams.size === 0) {
      this.socket.unref();
      if (this.draining) this.destroy();
    }
  }

  /** The stream's end: it is forgotten, and the session ends if it drains. */
  private finish(id: number): void {
    this.streams.delete(id);
    this.streamClosed();
  }

  private received(chunk: Buffer): void {
    let data = chunk;
    if (this.partial !== undefined) {
      data = Buffer.concat([this.partial, chunk]);
      this.partial = undefined;
    }
    let at = 0;
    while (!this.ended && data.length - at >= FRAME_HEADER) {
      const length = (data[at]! << 16) | (data[at + 1]! << 8) | data[at + 2]!;
      if (length > DEFAULT_MAX_FRAME) return this.fail(ErrorCode.FRAME_SIZE_ERROR, `frame of ${length} bytes over ${DEFAULT_MAX_FRAME}`);
      if (data.length - at < FRAME_HEADER + length) break;
      const type = data[at + 3]!;
      const flags = data[at + 4]!;
      const streamId = data.readUInt32BE(at + 5) & LAST_STREAM_ID;
      const payload = data.subarray(at + FRAME_HEADER, at + FRAME_HEADER + length);
      at += FRAME_HEADER + length;
      try {
        this.frameReceived(type, flags, streamId, payload);
      } catch (error) {
        if (error instanceof HpackError) return this.fail(ErrorCode.COMPRESSION_ERROR, error.message);
        throw error;
      }
    }
    if (at < data.length && !this.ended) this.partial = Buffer.from(data.subarray(at));
  }

  private frameReceived(type: number, flags: number, streamId: number, payload: Buffer): void {
    if (this.continued !== undefined && (type !== FrameType.CONTINUATION || streamId !== this.continued.streamId)) {
      return this.fail(ErrorCode.PROTOCOL_ERROR, 'header block interrupted');
    }
    switch (type) {
      case FrameType.DATA:
        return this.dataReceived(flags, streamId, payload);
      case FrameType.HEADERS: {
        if (streamId === 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS on stream 0');
        let start = 0;
        let end = payload.length;
        if (flags & FLAG_PADDED) {
          end -= payload[0] ?? 0;
          start = 1;
        }
        if (flags & FLAG_PRIORITY) start += 5;
        if (start > end) return this.fail(ErrorCode.PROTOCOL_ERROR, 'HEADERS padding past its frame');
        const fragment = payload.subarray(start, end);
        const endStream = (flags & FLAG_END_STREAM) !== 0;
        if (flags & FLAG_END_HEADERS) return this.headersReceived(streamId, fragment, endStream);
        this.continued = { streamId, endStream, fragments: [Buffer.from(fragment)], bytes: fragment.length };
        return;
      }
      case FrameType.CONTINUATION: {
        const continued = this.continued;
        if (continued === undefined) return this.fail(ErrorCode.PROTOCOL_ERROR, 'CONTINUATION without HEADERS');
        continued.bytes += payload.length;
        if (continued.bytes > MAX_HEADER_BLOCK_BYTES) return this.fail(ErrorCode.ENHANCE_YOUR_CALM, `header block over ${MAX_HEADER_BLOCK_BYTES} bytes`);
        continued.fragments.push(Buffer.from(payload));
        if (flags & FLAG_END_HEADERS) {
          this.continued = undefined;
          this.headersReceived(continued.streamId, Buffer.concat(continued.fragments), continued.endStream);
        }
        return;
      }
      case FrameType.RST_STREAM: {
        if (payload.length !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'RST_STREAM of a wrong size');
        const stream = this.streams.get(streamId);
        if (stream === undefined) return;
        this.finish(streamId);
        stream.handler.onReset(payload.readUInt32BE(0));
        return;
      }
      case FrameType.SETTINGS:
        return this.settingsReceived(flags, streamId, payload);
      case FrameType.PUSH_PROMISE:
        return this.fail(ErrorCode.PROTOCOL_ERROR, 'PUSH_PROMISE with push disabled');
      case FrameType.PING:
        if (payload.length !== 8) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'PING of a wrong size');
        if ((flags & FLAG_ACK) === 0) {
          const ack = frame(FrameType.PING, FLAG_ACK, 0, 8);
          payload.copy(ack, FRAME_HEADER);
          this.socket.write(ack);
        }
        return;
      case FrameType.GOAWAY:
        return this.goawayReceived(payload);
      case FrameType.WINDOW_UPDATE:
        return this.windowUpdateReceived(streamId, payload);
      default:
        return; // PRIORITY and unknown types are ignored (RFC 9113 5.5)
    }
  }

  private dataReceived(flags: number, streamId: number, payload: Buffer): void {
    this.receivedSinceRefill += payload.length;
    if (this.receivedSinceRefill >= WINDOW_REFILL) {
      const update = frame(FrameType.WINDOW_UPDATE, 0, 0, 4);
      update.writeUInt32BE(this.receivedSinceRefill, FRAME_HEADER);
      this.socket.write(update);
      this.receivedSinceRefill = 0;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return; // a stream this side reset: its late data is dropped
    let data = payload;
    if (flags & FLAG_PADDED) {
      const padding = payload[0] ?? 0;
      if (padding >= payload.length) return this.fail(ErrorCode.PROTOCOL_ERROR, 'DATA padding past its frame');
      data = payload.subarray(1, payload.length - padding);
    }
    const endStream = (flags & FLAG_END_STREAM) !== 0;
    if (endStream) this.finish(streamId);
    stream.handler.onData(data, endStream);
  }

  private headersReceived(streamId: number, block: Buffer, endStream: boolean): void {
    // Decoded even for a stream gone: the table is the connection's.
    const fields = this.decoder.decode(block);
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    if (endStream) this.finish(streamId);
    stream.handler.onHeaders(fields, endStream);
  }

  private settingsReceived(flags: number, streamId: number, payload: Buffer): void {
    if (streamId !== 0) return this.fail(ErrorCode.PROTOCOL_ERROR, 'SETTINGS on a stream');
    if (flags & FLAG_ACK) return;
    if (payload.length % 6 !== 0) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'SETTINGS of a wrong size');
    for (let at = 0; at < payload.length; at += 6) {
      const value = payload.readUInt32BE(at + 2);
      switch (payload.readUInt16BE(at)) {
        case SETTINGS_MAX_CONCURRENT_STREAMS:
          this.peerMaxStreams = value;
          break;
        case SETTINGS_INITIAL_WINDOW_SIZE: {
          if (value > MAX_WINDOW) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'initial window over 2^31-1');
          const change = value - this.peerInitialWindow;
          this.peerInitialWindow = value;
          for (const stream of this.streams.values()) stream.sendWindow += change;
          break;
        }
        case SETTINGS_MAX_FRAME_SIZE:
          if (value < DEFAULT_MAX_FRAME || value > 2 ** 24 - 1) return this.fail(ErrorCode.PROTOCOL_ERROR, `max frame size ${value}`);
          this.peerMaxFrame = value;
          break;
        default:
          break; // the header table size binds the peer's decoder, which this side never adds to
      }
    }
    this.socket.write(frame(FrameType.SETTINGS, FLAG_ACK, 0, 0));
    this.flushAll();
  }

  private windowUpdateReceived(streamId: number, payload: Buffer): void {
    if (payload.length !== 4) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'WINDOW_UPDATE of a wrong size');
    const increment = payload.readUInt32BE(0) & MAX_WINDOW;
    if (streamId === 0) {
      this.connectionSendWindow += increment;
      if (this.connectionSendWindow > MAX_WINDOW) return this.fail(ErrorCode.FLOW_CONTROL_ERROR, 'connection window over 2^31-1');
      this.flushAll();
      return;
    }
    const stream = this.streams.get(streamId);
    if (stream === undefined) return;
    stream.sendWindow += increment;
    if (stream.pending !== undefined) this.flush(streamId, stream);
  }

  private goawayReceived(payload: Buffer): void {
    if (payload.length < 8) return this.fail(ErrorCode.FRAME_SIZE_ERROR, 'GOAWAY of a wrong size');
    const lastStreamId = payload.readUInt32BE(0) & LAST_STREAM_ID;
    const code = payload.readUInt32BE(4);
    this.draining = true;
    this.onEnded(this);
    if (code !== ErrorCode.NO_ERROR) {
      this.failure ??= new Error(`Session closed with error code ${code}`);
      this.destroy();
      return;
    }
    // Streams the peer never took are lost; the ones it took may still finish.
    for (const [id, stream] of this.streams) {
      if (id <= lastStreamId) continue;
      this.streams.delete(id);
      stream.handler.onSessionLost(undefined);
    }
    this.streamClosed();
  }

  /** A protocol error on the peer's side: GOAWAY with `code`, and the session ends. */
  private fail(code: ErrorCode, reason: string): void {
    if (this.ended) return;
    this.failure ??= new Error(`Protocol error from the provider: ${reason}`);
    const goaway = frame(FrameType.GOAWAY, 0, 0, 8);
    goaway.writeUInt32BE(Math.max(0, this.nextStreamId - 2), FRAME_HEADER);
    goaway.writeUInt32BE(code, FRAME_HEADER + 4);
    this.socket.end(goaway);
    this.socket.destroySoon();
    this.end();
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    this.draining = true;
    this.partial = undefined;
    this.onEnded(this);
    const lost = [...this.streams.values()];
    this.streams.clear();
    this.socket.unref();
    for (const stream of lost) stream.handler.onSessionLost(this.failure);
  }
}
