import { mkdtemp, rm } from 'node:fs/promises';
import { connect, constants, type ClientHttp2Session, type IncomingHttpHeaders, type OutgoingHttpHeaders } from 'node:http2';
import { connect as connectSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { expect } from 'chai';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import type { NodeVolumes, UnpublishCommand } from '../../src/ports/node-volumes.js';
import { GrpcStatus } from '../../src/adapters/grpc-wire/grpc-status.js';
import { CSI_METHODS } from '../../src/adapters/csi-grpc/csi-messages.js';
import { startCsiServer, type CsiServer } from '../../src/adapters/csi-grpc/csi-server.js';
import { MAX_RECEIVE_MESSAGE_BYTES } from '../../src/adapters/csi-grpc/unary-server.js';
import { targetPathFor } from '../support/builders.js';
import { CollectingLogger } from '../support/driver-harness.js';

/** NodeVolumes whose unpublish waits until released, so a test holds a call in flight. */
class GatedNodeVolumes implements NodeVolumes {
  readonly unpublished: UnpublishCommand[] = [];
  private releases: (() => void)[] = [];
  private waiters: (() => void)[] = [];

  async publish(_command: PublishCommand): Promise<void> {}

  async unpublish(command: UnpublishCommand): Promise<void> {
    await new Promise<void>((resolve) => {
      this.releases.push(resolve);
      for (const waiter of this.waiters.splice(0)) waiter();
    });
    this.unpublished.push(command);
  }

  /** Resolves once an unpublish is waiting. */
  waiting(): Promise<void> {
    return this.releases.length > 0 ? Promise.resolve() : new Promise((resolve) => this.waiters.push(resolve));
  }

  releaseAll(): void {
    for (const release of this.releases.splice(0)) release();
  }
}

/** What came back on one stream. */
interface Answer {
  readonly headers: IncomingHttpHeaders;
  readonly trailers: IncomingHttpHeaders | undefined;
  readonly data: Buffer;
  /** The status, from the trailers or (trailers-only) the headers. */
  readonly status: number;
  readonly message: string;
}

function framed(message: Buffer, compressed = false): Buffer {
  const frame = Buffer.alloc(5 + message.length);
  frame[0] = compressed ? 1 : 0;
  frame.writeUInt32BE(message.length, 1);
  message.copy(frame, 5);
  return frame;
}

const UNPUBLISH = CSI_METHODS.Node.NodeUnpublishVolume;
const anUnpublish = (): Buffer => UNPUBLISH.request.encode({ volumeId: 'csi-0123abcd', targetPath: targetPathFor('pod-uid-1') });

describe('CSI unary gRPC server: the edges of the protocol, on a real unix socket', () => {
  let root: string;
  let socketPath: string;
  let volumes: GatedNodeVolumes;
  let logger: CollectingLogger;
  let server: CsiServer | undefined;
  let session: ClientHttp2Session;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'csi-unary-'));
    socketPath = join(root, 'csi.sock');
    volumes = new GatedNodeVolumes();
    logger = new CollectingLogger();
    server = await startCsiServer({ endpoint: `unix://${socketPath}`, driverName: 'secrets-store.csi.k8s.io', version: '1', nodeId: 'node-a', volumes, logger });
    session = openSession();
  });

  afterEach(async () => {
    volumes.releaseAll();
    session.destroy();
    await server?.stop(1000);
    await rm(root, { recursive: true, force: true });
  });

  function openSession(): ClientHttp2Session {
    const opened = connect('http://localhost', { createConnection: () => connectSocket(socketPath) });
    opened.on('error', () => undefined);
    return opened;
  }

  function request(path: string, extraHeaders: OutgoingHttpHeaders = {}) {
    return session.request({
      ':method': 'POST',
      ':path': path,
      'content-type': 'application/grpc',
      te: 'trailers',
      ...extraHeaders,
    });
  }

  /** Sends `body` (ending the stream unless told not to) and gathers the answer. */
  function call(path: string, body: Buffer, options: { headers?: OutgoingHttpHeaders; end?: boolean } = {}): Promise<Answer> {
    const stream = request(path, options.headers);
    return new Promise((resolve, reject) => {
      let headers: IncomingHttpHeaders = {};
      let trailers: IncomingHttpHeaders | undefined;
      const chunks: Buffer[] = [];
      stream.on('response', (received) => (headers = received));
      stream.on('trailers', (received) => (trailers = received));
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('error', reject);
      stream.on('close', () => {
        const statusFrom = trailers ?? headers;
        resolve({
          headers,
          trailers,
          data: Buffer.concat(chunks),
          status: Number(statusFrom['grpc-status']),
          message: decodeURIComponent(String(statusFrom['grpc-message'] ?? '')),
        });
      });
      if (options.end === false) stream.write(body);
      else stream.end(body);
    });
  }

  it('answers a call: status 200, a gRPC content type, one framed message and grpc-status 0 in the trailers', async () => {
    const answer = await call('/csi.v1.Identity/Probe', framed(Buffer.alloc(0)));
    expect(answer.headers[':status']).to.equal(200);
    expect(answer.headers['content-type']).to.equal('application/grpc+proto');
    expect(answer.trailers).to.include({ 'grpc-status': '0', 'grpc-message': 'OK' });
    expect(answer.data.readUInt32BE(1)).to.equal(answer.data.length - 5);
    expect(CSI_METHODS.Identity.Probe.response.decode(answer.data.subarray(5))).to.deep.equal({ ready: { value: true } });
  });

  for (const authority of ['localhost', '127.0.0.1:0', 'csi.sock', 'x.invalid']) {
    it(`accepts :authority "${authority}"`, async () => {
      const answer = await call('/csi.v1.Identity/Probe', framed(Buffer.alloc(0)), { headers: { ':authority': authority } });
      expect(answer.status).to.equal(GrpcStatus.OK);
    });
  }

  const refusals: { name: string; path?: string; body: () => Buffer; headers?: OutgoingHttpHeaders; status: number; message: string }[] = [
    { name: 'an unknown method', path: '/csi.v1.Controller/CreateVolume', body: () => framed(Buffer.alloc(0)), status: GrpcStatus.UNIMPLEMENTED, message: 'The server does not implement the method /csi.v1.Controller/CreateVolume' },
    { name: 'an unknown service', path: '/csi.v1.GroupController/GroupControllerGetCapabilities', body: () => framed(Buffer.alloc(0)), status: GrpcStatus.UNIMPLEMENTED, message: 'The server does not implement the method /csi.v1.GroupController/GroupControllerGetCapabilities' },
    { name: 'a request that is not protobuf', body: () => framed(Buffer.from([0x0a, 0x05, 0x61])), status: GrpcStatus.INTERNAL, message: 'Error deserializing request' },
    { name: 'a request with an invalid wire type', body: () => framed(Buffer.from([0x0f])), status: GrpcStatus.INTERNAL, message: 'Error deserializing request' },
    { name: 'no request message', body: () => Buffer.alloc(0), status: GrpcStatus.UNIMPLEMENTED, message: 'Received no request message for server streaming method /csi.v1.Node/NodeUnpublishVolume' },
    { name: 'a request cut inside its frame', body: () => framed(anUnpublish()).subarray(0, 9), status: GrpcStatus.UNIMPLEMENTED, message: 'Received no request message for server streaming method /csi.v1.Node/NodeUnpublishVolume' },
    { name: 'two request messages', body: () => Buffer.concat([framed(anUnpublish()), framed(anUnpublish())]), status: GrpcStatus.UNIMPLEMENTED, message: 'Received a second request message for server streaming method /csi.v1.Node/NodeUnpublishVolume' },
    { name: 'a compression it does not know', body: () => framed(anUnpublish(), true), headers: { 'grpc-encoding': 'snappy' }, status: GrpcStatus.UNIMPLEMENTED, message: 'Received message compressed with unsupported encoding "snappy"' },
    { name: 'a gzip message that does not inflate', body: () => framed(Buffer.from('not gzip'), true), headers: { 'grpc-encoding': 'gzip' }, status: GrpcStatus.INTERNAL, message: 'Failed to decompress message' },
    { name: 'a gzip message over the size limit once inflated', body: () => framed(gzipSync(Buffer.alloc(MAX_RECEIVE_MESSAGE_BYTES + 1)), true), headers: { 'grpc-encoding': 'gzip' }, status: GrpcStatus.RESOURCE_EXHAUSTED, message: `Received message that decompresses to a size larger than ${MAX_RECEIVE_MESSAGE_BYTES}` },
    { name: 'a malformed grpc-timeout', body: () => framed(anUnpublish()), headers: { 'grpc-timeout': '10 years' }, status: GrpcStatus.INTERNAL, message: 'Invalid grpc-timeout value "10 years"' },
  ];
  for (const { name, path, body, headers, status, message } of refusals) {
    it(`answers ${name} with status ${status} and grpc-js' message, trailers-only, and keeps serving`, async () => {
      const answer = await call(path ?? UNPUBLISH.path, body(), { headers });
      expect(answer.trailers).to.equal(undefined);
      expect(answer.data.length).to.equal(0);
      expect({ status: answer.status, message: answer.message }).to.deep.equal({ status, message });
      expect((await call('/csi.v1.Identity/Probe', framed(Buffer.alloc(0)))).status).to.equal(GrpcStatus.OK);
      expect(volumes.unpublished).to.deep.equal([]);
    });
  }

  it('reads a gzip-compressed request, as grpc-js did', async () => {
    const pending = call(UNPUBLISH.path, framed(gzipSync(anUnpublish()), true), { headers: { 'grpc-encoding': 'gzip' } });
    await volumes.waiting();
    volumes.releaseAll();
    expect((await pending).status).to.equal(GrpcStatus.OK);
    expect(volumes.unpublished).to.deep.equal([{ volumeId: 'csi-0123abcd', targetPath: targetPathFor('pod-uid-1') }]);
  });

  it('refuses a request over 4 MiB from its length prefix, before the rest is sent', async () => {
    const prefix = Buffer.alloc(5);
    prefix.writeUInt32BE(MAX_RECEIVE_MESSAGE_BYTES + 1, 1);
    const answer = await call(UNPUBLISH.path, Buffer.concat([prefix, Buffer.alloc(1024)]), { end: false });
    expect({ status: answer.status, message: answer.message }).to.deep.equal({
      status: GrpcStatus.RESOURCE_EXHAUSTED,
      message: `Received message larger than max (${MAX_RECEIVE_MESSAGE_BYTES + 1} vs ${MAX_RECEIVE_MESSAGE_BYTES})`,
    });
  });

  it('answers 415 to a request that is not gRPC', async () => {
    const answer = await call('/csi.v1.Identity/Probe', framed(Buffer.alloc(0)), { headers: { 'content-type': 'application/json' } });
    expect(answer.headers[':status']).to.equal(constants.HTTP_STATUS_UNSUPPORTED_MEDIA_TYPE);
  });

  it('fails a call past its grpc-timeout DEADLINE_EXCEEDED while the handler runs on', async () => {
    const answer = call(UNPUBLISH.path, framed(anUnpublish()), { headers: { 'grpc-timeout': '50m' } });
    await volumes.waiting();
    expect({ status: (await answer).status, message: (await answer).message }).to.deep.equal({ status: GrpcStatus.DEADLINE_EXCEEDED, message: 'Deadline exceeded' });
    volumes.releaseAll();
  });

  it('gives a call whose grpc-timeout is beyond a timer\'s range no deadline', async () => {
    const answer = call(UNPUBLISH.path, framed(anUnpublish()), { headers: { 'grpc-timeout': '99999999H' } });
    await volumes.waiting();
    // An overflowing timer would have been set to 1 ms before this one, so it fires first.
    await new Promise((resolve) => setTimeout(resolve, 1));
    volumes.releaseAll();
    expect((await answer).status).to.equal(GrpcStatus.OK);
  });

  it('survives a client that cancels mid-call: the call runs to its end and is logged, its answer dropped, and the session serves on', async () => {
    const stream = request(UNPUBLISH.path);
    stream.on('error', () => undefined);
    stream.end(framed(anUnpublish()));
    await volumes.waiting();
    const closed = new Promise((resolve) => stream.on('close', resolve));
    stream.close(constants.NGHTTP2_CANCEL);
    await closed;
    volumes.releaseAll();
    await until(() => logger.lines.some((line) => line.startsWith('info csi call ') && line.includes('NodeUnpublishVolume')));
    expect(volumes.unpublished).to.have.length(1);
    expect((await call('/csi.v1.Identity/Probe', framed(Buffer.alloc(0)))).status).to.equal(GrpcStatus.OK);
  });

  it('survives a client whose connection drops mid-call', async () => {
    const stream = request(UNPUBLISH.path);
    stream.on('error', () => undefined);
    stream.end(framed(anUnpublish()));
    await volumes.waiting();
    session.destroy();
    volumes.releaseAll();
    await until(() => volumes.unpublished.length === 1);
    session = openSession();
    expect((await call('/csi.v1.Identity/Probe', framed(Buffer.alloc(0)))).status).to.equal(GrpcStatus.OK);
  });

  it('lets a call in flight finish when stopped within the grace period, and refuses new connections', async () => {
    const answer = call(UNPUBLISH.path, framed(anUnpublish()));
    await volumes.waiting();
    const stopped = server!.stop(30_000);
    server = undefined;
    volumes.releaseAll();
    expect((await answer).status).to.equal(GrpcStatus.OK);
    await stopped;
    const refused = await new Promise<boolean>((resolve) => {
      const late = connectSocket(socketPath);
      late.on('error', () => resolve(true));
      late.on('connect', () => {
        late.destroy();
        resolve(false);
      });
    });
    expect(refused).to.equal(true);
  });

  it('cuts a call in flight off CANCELLED once the grace period is over', async () => {
    const stream = request(UNPUBLISH.path);
    stream.on('error', () => undefined);
    stream.end(framed(anUnpublish()));
    await volumes.waiting();
    const closed = new Promise<number>((resolve) => stream.on('close', () => resolve(stream.rstCode ?? -1)));
    await server!.stop(50);
    server = undefined;
    expect(await closed).to.equal(constants.NGHTTP2_CANCEL);
  });
});

/** Resolves once `condition` holds; the test's timeout bounds the wait. */
async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}
