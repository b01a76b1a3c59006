import { spawnSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { constants, type IncomingHttpHeaders, type ServerHttp2Stream, type ServerOptions } from 'node:http2';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import fc from 'fast-check';
import { GrpcStatus } from '../../src/adapters/grpc-wire/grpc-status.js';
import { VERSION_METHOD, VERSION_REQUEST, VERSION_RESPONSE, type VersionResponse } from '../../src/adapters/provider-grpc/provider-messages.js';
import { UnaryChannel } from '../../src/adapters/provider-grpc/unary-channel.js';
import { eventually } from '../contract/eventually.js';
import { answer, failureOf, framed, GRPC_HEADERS, PEER_VERSION, TestPeer } from '../support/grpc-test-peer.js';

describe('UnaryChannel: unary gRPC over HTTP/2 on a real unix socket', () => {
  let root: string;
  let socketPath: string;
  const peers: TestPeer[] = [];
  const channels: UnaryChannel[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'unary-'));
    socketPath = join(root, 'peer.sock');
  });

  afterEach(async () => {
    for (const channel of channels.splice(0)) channel.close();
    for (const peer of peers.splice(0)) await peer.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function peer(handle: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, call: number) => void, options?: ServerOptions): Promise<TestPeer> {
    const started = await TestPeer.listen(socketPath, handle, options);
    peers.push(started);
    return started;
  }

  function channel(maxReceiveMessageSize = 4 * 1024 * 1024): UnaryChannel {
    const opened = new UnaryChannel({ socketPath, maxReceiveMessageSize, userAgent: 'secrets-store-csi/9.9.9' });
    channels.push(opened);
    return opened;
  }

  const inSeconds = (seconds: number): Date => new Date(Date.now() + seconds * 1000);
  const call = (on: UnaryChannel, deadline = inSeconds(30), signal?: AbortSignal): Promise<VersionResponse> =>
    on.call(VERSION_METHOD, { version: 'v1alpha1' }, deadline, signal);

  it('sends a gRPC request the way the upstream driver does and decodes the answer', async () => {
    const server = await peer((stream) => answer(stream));
    expect(await call(channel())).to.deep.equal(PEER_VERSION);
    const { headers } = server.calls[0]!;
    expect(headers).to.include({
      ':method': 'POST',
      ':scheme': 'http',
      ':authority': 'localhost',
      ':path': '/v1alpha1.CSIDriverProvider/Version',
      'content-type': 'application/grpc',
      te: 'trailers',
      'user-agent': 'secrets-store-csi/9.9.9',
    });
    expect(headers['grpc-timeout']).to.match(/^\d{1,8}m$/);
    expect(Number(String(headers['grpc-timeout']).slice(0, -1))).to.be.within(1, 30_000);
  });

  it('uses one HTTP/2 session for every call, and a new one after the peer closed it', async () => {
    const server = await peer((stream) => answer(stream));
    const shared = channel();
    await Promise.all([call(shared), call(shared), call(shared)]);
    expect(server.sessions).to.have.length(1);

    server.sessions[0]!.close();
    await eventually(() => expect(server.sessions[0]!.closed).to.equal(true), 10_000);
    await eventually(async () => expect(await call(shared)).to.deep.equal(PEER_VERSION), 10_000);
    expect(server.sessions).to.have.length(2);
  });

  it('reads a message that arrives in many small DATA frames', async () => {
    await peer((stream) => {
      const body = framed(VERSION_RESPONSE.encode(PEER_VERSION));
      stream.respond(GRPC_HEADERS, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
      for (const byte of body) stream.write(Buffer.from([byte]));
      stream.end();
    });
    expect(await call(channel())).to.deep.equal(PEER_VERSION);
  });

  it('serves many large answers at once on its one session', async () => {
    const large: VersionResponse = { ...PEER_VERSION, runtimeName: 'x'.repeat(3 * 1024 * 1024) };
    await peer((stream) => answer(stream, framed(VERSION_RESPONSE.encode(large))));
    const shared = channel(4 * 1024 * 1024);
    const answers = await Promise.all(Array.from({ length: 8 }, () => call(shared)));
    expect(answers.map((received) => received.runtimeName.length)).to.deep.equal(Array(8).fill(large.runtimeName.length));
  });

  const statusCases: { name: string; respond: (stream: ServerHttp2Stream) => void; code: number; details: string }[] = [
    {
      name: 'a trailers-only error, its message percent-decoded',
      respond: (stream) => stream.respond({ ...GRPC_HEADERS, 'grpc-status': '7', 'grpc-message': 'denied%3A%20no%20access%20%E2%9C%93%2C%20100%' }, { endStream: true }),
      code: GrpcStatus.PERMISSION_DENIED,
      details: 'denied: no access ✓, 100%',
    },
    {
      name: 'an error in trailers after the headers',
      respond: (stream) => {
        stream.respond(GRPC_HEADERS, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '5', 'grpc-message': 'no such object' }));
        stream.end();
      },
      code: GrpcStatus.NOT_FOUND,
      details: 'no such object',
    },
    ...[
      [503, GrpcStatus.UNAVAILABLE],
      [502, GrpcStatus.UNAVAILABLE],
      [504, GrpcStatus.UNAVAILABLE],
      [429, GrpcStatus.UNAVAILABLE],
      [400, GrpcStatus.INTERNAL],
      [401, GrpcStatus.UNAUTHENTICATED],
      [403, GrpcStatus.PERMISSION_DENIED],
      [404, GrpcStatus.UNIMPLEMENTED],
      [500, GrpcStatus.UNKNOWN],
    ].map(([http, code]) => ({
      name: `HTTP ${http} with an HTML body and no grpc-status`,
      respond: (stream: ServerHttp2Stream) => {
        stream.respond({ ':status': http!, 'content-type': 'text/html' });
        stream.end('<html><body>Service Unavailable</body></html>');
      },
      code: code!,
      details: `Received HTTP status code ${http}`,
    })),
    {
      name: 'a status OK without a message',
      respond: (stream) => stream.respond({ ...GRPC_HEADERS, 'grpc-status': '0' }, { endStream: true }),
      code: GrpcStatus.UNIMPLEMENTED,
      details: 'No message received',
    },
    {
      name: 'an answer ending without trailers',
      respond: (stream) => {
        stream.respond(GRPC_HEADERS);
        stream.end(framed(VERSION_RESPONSE.encode(PEER_VERSION)));
      },
      code: GrpcStatus.INTERNAL,
      details: 'Received RST_STREAM with code 0 (Call ended without gRPC status)',
    },
    {
      name: 'trailers without grpc-status',
      respond: (stream) => {
        stream.respond(GRPC_HEADERS, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'x-note': 'none' }));
        stream.end(framed(VERSION_RESPONSE.encode(PEER_VERSION)));
      },
      code: GrpcStatus.UNKNOWN,
      details: 'No status information received',
    },
    {
      name: 'a message that is no VersionResponse',
      respond: (stream) => answer(stream, framed(Buffer.from([0x0a, 0x09, 0x61]))),
      code: GrpcStatus.INTERNAL,
      details: 'Response message parsing error: length 9 runs past the end of the message at byte 1',
    },
    {
      name: 'a malformed grpc-status',
      respond: (stream) => stream.respond({ ...GRPC_HEADERS, 'grpc-status': 'bad' }, { endStream: true }),
      code: GrpcStatus.UNKNOWN,
      details: 'Malformed grpc-status "bad"',
    },
    {
      name: 'a stream reset by the peer',
      respond: (stream) => stream.close(0x2), // INTERNAL_ERROR
      code: GrpcStatus.INTERNAL,
      details: 'Received RST_STREAM with code 2',
    },
  ];
  for (const { name, respond, code, details } of statusCases) {
    it(`fails on ${name} as grpc-js does: ${details}`, async () => {
      await peer(respond);
      const error = await failureOf(call(channel()));
      expect([error.code, error.details]).to.deep.equal([code, details]);
    });
  }

  it('refuses an answer over the size limit from its length prefix, without waiting for the rest, and resets the stream', async () => {
    const server = await peer((stream) => {
      stream.respond(GRPC_HEADERS);
      const prefix = Buffer.alloc(5);
      prefix.writeUInt32BE(1_000_000, 1);
      stream.write(prefix); // and never the message
    });
    const error = await failureOf(call(channel(1024)));
    expect([error.code, error.details]).to.deep.equal([GrpcStatus.RESOURCE_EXHAUSTED, 'Received message larger than max (1000000 vs 1024)']);
    expect(await server.calls[0]!.closed).to.equal(0x8); // CANCEL
  });

  it('refuses a compressed message: it accepts no compression', async () => {
    const server = await peer((stream) => answer(stream, framed(VERSION_RESPONSE.encode(PEER_VERSION), 1)));
    const error = await failureOf(call(channel()));
    expect(error.code).to.equal(GrpcStatus.INTERNAL);
    expect(error.details).to.include('compressed flag 1');
    expect(server.calls[0]!.headers['grpc-accept-encoding']).to.equal('identity');
  });

  it('refuses a second message in a unary answer', async () => {
    await peer((stream) => answer(stream, Buffer.concat([framed(VERSION_RESPONSE.encode(PEER_VERSION)), framed(VERSION_RESPONSE.encode(PEER_VERSION))])));
    const error = await failureOf(call(channel()));
    expect([error.code, error.details]).to.deep.equal([GrpcStatus.UNIMPLEMENTED, 'Too many responses received']);
  });

  it('fails a call past its deadline DEADLINE_EXCEEDED, and the peer sees it cancelled', async () => {
    const server = await peer(() => undefined);
    const error = await failureOf(call(channel(), new Date(Date.now() + 200)));
    expect([error.code, error.details]).to.deep.equal([GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded']);
    expect(await server.calls[0]!.closed).to.equal(0x8);
  });

  it('fails a call whose deadline has passed without sending it', async () => {
    const server = await peer((stream) => answer(stream));
    const error = await failureOf(call(channel(), new Date(Date.now() - 1)));
    expect(error.code).to.equal(GrpcStatus.DEADLINE_EXCEEDED);
    expect(server.calls).to.have.length(0);
  });

  it('cancels a call whose signal aborts, and the peer sees it cancelled', async () => {
    const server = await peer(() => undefined);
    const controller = new AbortController();
    const pending = call(channel(), inSeconds(60), controller.signal);
    await eventually(() => expect(server.calls).to.have.length(1), 10_000);
    controller.abort();
    const error = await failureOf(pending);
    expect([error.code, error.details]).to.deep.equal([GrpcStatus.CANCELLED, 'Cancelled on client']);
    expect(await server.calls[0]!.closed).to.equal(0x8);
  });

  it('fails UNAVAILABLE when no socket exists', async () => {
    const error = await failureOf(call(channel()));
    expect(error.code).to.equal(GrpcStatus.UNAVAILABLE);
    expect(error.details).to.include('ENOENT');
  });

  it('fails UNAVAILABLE when nobody listens on the socket (ECONNREFUSED)', async () => {
    // A socket file left behind by a killed process: it never got to remove it.
    const killed = spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(socketPath)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(killed.signal).to.equal('SIGKILL');
    const error = await failureOf(call(channel()));
    expect(error.code).to.equal(GrpcStatus.UNAVAILABLE);
    expect(error.details).to.include('ECONNREFUSED');
  });

  it('fails UNAVAILABLE when the peer drops the connection mid-call, and the next call connects again', async () => {
    const server = await peer((stream, _headers, callNumber) => (callNumber === 1 ? stream.session?.destroy() : answer(stream)));
    const shared = channel();
    const error = await failureOf(call(shared));
    expect(error.code).to.equal(GrpcStatus.UNAVAILABLE);
    expect(await call(shared)).to.deep.equal(PEER_VERSION);
    expect(server.sessions).to.have.length(2);
  });

  it('fails UNAVAILABLE when the peer sends GOAWAY before serving the call', async () => {
    const server = await peer((stream) => answer(stream));
    const shared = channel();
    await call(shared);
    server.sessions[0]!.goaway(0, 0); // NO_ERROR, no stream served
    const error = await failureOf(call(shared)).catch(() => undefined);
    // Either the call lands on the closing session and is refused, or the channel already saw GOAWAY and connects anew.
    if (error !== undefined) expect(error.code).to.equal(GrpcStatus.UNAVAILABLE);
    await eventually(async () => expect(await call(shared)).to.deep.equal(PEER_VERSION), 10_000);
  });

  it('decodes the fields a peer codes with Huffman and its dynamic table, call after call on one session', async () => {
    let message = '';
    await peer((stream) => stream.respond({ ...GRPC_HEADERS, 'grpc-status': '5', 'grpc-message': message }, { endStream: true }));
    const shared = channel();
    const word = fc.array(fc.integer({ min: 0x21, max: 0x7e }).filter((code) => code !== 0x25), { minLength: 1, maxLength: 30 }).map((codes) => String.fromCharCode(...codes));
    await fc.assert(
      fc.asyncProperty(fc.array(word, { minLength: 1, maxLength: 4 }), async (words) => {
        message = words.join(' ');
        const error = await failureOf(call(shared));
        expect([error.code, error.details]).to.deep.equal([GrpcStatus.NOT_FOUND, message]);
      }),
      { numRuns: 60 },
    );
  });

  it('reads trailers whose header block runs over CONTINUATION frames', async () => {
    const long = 'no such object: '.repeat(2500); // 40,000 bytes, past one 16 KiB frame even Huffman-coded
    await peer((stream) => stream.respond({ ...GRPC_HEADERS, 'grpc-status': '5', 'grpc-message': long }, { endStream: true }));
    const error = await failureOf(call(channel()));
    expect([error.code, error.details]).to.deep.equal([GrpcStatus.NOT_FOUND, long]);
  });

  it('reads padded HEADERS and DATA frames', async () => {
    await peer((stream) => answer(stream), { paddingStrategy: constants.PADDING_STRATEGY_MAX });
    expect(await call(channel())).to.deep.equal(PEER_VERSION);
  });

  it('sends a request larger than the peer\'s flow-control windows whole, as the peer opens them', async () => {
    const server = await peer((stream) => answer(stream));
    const version = 'v'.repeat(300_000);
    expect(await channel().call(VERSION_METHOD, { version }, inSeconds(30))).to.deep.equal(PEER_VERSION);
    expect(server.calls[0]!.body.equals(framed(VERSION_REQUEST.encode({ version })))).to.equal(true);
  });

  it('keeps to the peer\'s concurrent stream limit, starting waiting calls as streams end', async () => {
    let open = 0;
    let most = 0;
    await peer(
      (stream) => {
        most = Math.max(most, ++open);
        stream.on('close', () => open--);
        setImmediate(() => answer(stream));
      },
      { settings: { maxConcurrentStreams: 1 } },
    );
    const shared = channel();
    await call(shared); // the peer's SETTINGS are in
    const answers = await Promise.all(Array.from({ length: 6 }, () => call(shared)));
    expect(answers).to.deep.equal(Array(6).fill(PEER_VERSION));
    expect(most).to.equal(1);
  });

  it('answers the peer\'s PING', async () => {
    const server = await peer((stream) => answer(stream));
    await call(channel());
    const acked = await new Promise<boolean>((resolve) => server.sessions[0]!.ping((error) => resolve(error === null)));
    expect(acked).to.equal(true);
  });

  it('fails the calls under way UNAVAILABLE on GOAWAY with an error code, and the next call connects again', async () => {
    const server = await peer((stream, _headers, callNumber) => (callNumber === 1 ? stream.session?.goaway(constants.NGHTTP2_INTERNAL_ERROR) : answer(stream)));
    const shared = channel();
    const error = await failureOf(call(shared));
    expect([error.code, error.details]).to.deep.equal([GrpcStatus.UNAVAILABLE, 'Connection dropped: Session closed with error code 2']);
    expect(await call(shared)).to.deep.equal(PEER_VERSION);
    expect(server.sessions).to.have.length(2);
  });

  describe('a peer that breaks the HTTP/2 rules', () => {
    let rawServer: Server | undefined;
    afterEach(async () => {
      await new Promise((resolve) => (rawServer ? rawServer.close(resolve) : resolve(undefined)));
      rawServer = undefined;
    });

    /** A frame as the peer writes it. */
    const rawFrame = (type: number, flags: number, streamId: number, payload: Buffer): Buffer => {
      const header = Buffer.alloc(9);
      header.writeUIntBE(payload.length, 0, 3);
      header[3] = type;
      header[4] = flags;
      header.writeUInt32BE(streamId, 5);
      return Buffer.concat([header, payload]);
    };
    const EMPTY_SETTINGS = rawFrame(0x4, 0, 0, Buffer.alloc(0));

    const cases: { name: string; answer: Buffer; details: string; goawayCode: number }[] = [
      { name: 'a header block with index 0', answer: rawFrame(0x1, 0x5, 1, Buffer.from([0x80])), details: 'no table entry 0', goawayCode: 0x9 },
      { name: 'a frame over the 16 KiB frame size', answer: rawFrame(0x0, 0x1, 1, Buffer.alloc(20_000)), details: 'frame of 20000 bytes over 16384', goawayCode: 0x6 },
      { name: 'a PUSH_PROMISE with push disabled', answer: rawFrame(0x5, 0x4, 1, Buffer.from([0, 0, 0, 2, 0x82])), details: 'PUSH_PROMISE with push disabled', goawayCode: 0x1 },
      { name: 'a DATA frame in the middle of a header block', answer: Buffer.concat([rawFrame(0x1, 0, 1, Buffer.from([0x88])), rawFrame(0x0, 0x1, 1, Buffer.alloc(1))]), details: 'header block interrupted', goawayCode: 0x1 },
    ];
    for (const { name, answer: bytes, details, goawayCode } of cases) {
      it(`fails the call UNAVAILABLE on ${name} and tells the peer with GOAWAY ${goawayCode}`, async () => {
        const received: Buffer[] = [];
        const closed = new Promise<void>((resolve) => {
          rawServer = createServer((socket: Socket) => {
            socket.on('data', (chunk: Buffer) => {
              received.push(chunk);
              // Answers once the request's HEADERS have come (the preface, SETTINGS and WINDOW_UPDATE come first).
              if (received.length === 1) socket.write(Buffer.concat([EMPTY_SETTINGS, bytes]));
            });
            socket.on('close', () => resolve());
            socket.on('error', () => undefined);
          }).listen(socketPath);
        });
        await new Promise((resolve) => rawServer!.once('listening', resolve));
        const error = await failureOf(call(channel()));
        expect([error.code, error.details]).to.deep.equal([GrpcStatus.UNAVAILABLE, `Connection dropped: Protocol error from the provider: ${details}`]);
        await closed;
        const all = Buffer.concat(received);
        const goaway = all.indexOf(Buffer.from([0x00, 0x00, 0x08, 0x07]));
        expect(goaway).to.be.greaterThan(0);
        expect(all.readUInt32BE(goaway + 9 + 4)).to.equal(goawayCode);
      });
    }
  });

  it('fails every call after close() UNAVAILABLE', async () => {
    await peer((stream) => answer(stream));
    const closed = channel();
    await call(closed);
    closed.close();
    expect(closed.isClosed()).to.equal(true);
    expect((await failureOf(call(closed))).code).to.equal(GrpcStatus.UNAVAILABLE);
  });
});
