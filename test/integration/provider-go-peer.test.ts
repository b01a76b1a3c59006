import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { GrpcStatus } from '../../src/adapters/grpc-wire/grpc-status.js';
import { MOUNT_METHOD, VERSION_METHOD, type MountResponse } from '../../src/adapters/provider-grpc/provider-messages.js';
import { UnaryChannel } from '../../src/adapters/provider-grpc/unary-channel.js';
import { eventually } from '../contract/eventually.js';
import { requireGoProvider, startGoProvider } from '../support/go-provider.js';
import { failureOf } from '../support/grpc-test-peer.js';

async function listening(socketPath: string): Promise<void> {
  await eventually(() => expect(existsSync(socketPath), `${socketPath} exists`).to.equal(true), 15_000);
}

/** File i's contents as the grpc-go provider makes them. */
function expectedContents(size: number): Buffer {
  return Buffer.from(Array.from({ length: size }, (_, i) => i % 251));
}

describe('UnaryChannel against a provider served by grpc-go', function () {
  let binary: string;
  let root: string;
  let socketPath: string;
  let provider: ChildProcess | undefined;
  const channels: UnaryChannel[] = [];

  before(function () {
    binary = requireGoProvider(this);
  });

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'go-peer-'));
    socketPath = join(root, 'go.sock');
    provider = startGoProvider(binary, socketPath);
    await listening(socketPath);
  });

  afterEach(async () => {
    for (const channel of channels.splice(0)) channel.close();
    if (provider !== undefined && provider.exitCode === null) {
      const exited = new Promise((resolve) => provider!.once('exit', resolve));
      provider.kill('SIGTERM');
      await exited;
    }
    await rm(root, { recursive: true, force: true });
  });

  function channel(maxReceiveMessageSize = 4 * 1024 * 1024): UnaryChannel {
    const opened = new UnaryChannel({ socketPath, maxReceiveMessageSize, userAgent: 'secrets-store-csi/9.9.9' });
    channels.push(opened);
    return opened;
  }

  const inSeconds = (seconds: number): Date => new Date(Date.now() + seconds * 1000);
  const mount = (on: UnaryChannel, attributes: Record<string, string>, deadline = inSeconds(30)): Promise<MountResponse> =>
    on.call(MOUNT_METHOD, { attributes: JSON.stringify(attributes), secrets: '{}', targetPath: '/target', permission: '420', currentObjectVersion: [] }, deadline);

  it('calls Version and Mount and reads the answers whole', async () => {
    const shared = channel();
    expect(await shared.call(VERSION_METHOD, { version: 'v1alpha1' }, inSeconds(30))).to.deep.equal({ version: 'v1alpha1', runtimeName: 'go-provider', runtimeVersion: '1.0.0' });
    const answer = await mount(shared, { files: '3', size: '300' });
    expect(answer.files.map((file) => [file.path, file.mode, Buffer.from(file.contents).equals(expectedContents(300))])).to.deep.equal([
      ['file-0', 0o644, true],
      ['file-1', 0o644, true],
      ['file-2', 0o644, true],
    ]);
    expect(answer.objectVersion).to.deep.equal([0, 1, 2].map((i) => ({ id: `file-${i}`, version: '1' })));
  });

  it('serves many calls at once on one connection, answers of 3 MiB among them', async () => {
    const shared = channel();
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => mount(shared, { files: '1', size: String(i % 8 === 0 ? 3 * 1024 * 1024 : 64) })));
    expect(answers.map((answer) => answer.files[0]!.contents.length)).to.deep.equal(Array.from({ length: 40 }, (_, i) => (i % 8 === 0 ? 3 * 1024 * 1024 : 64)));
    expect(Buffer.from(answers[0]!.files[0]!.contents).equals(expectedContents(3 * 1024 * 1024))).to.equal(true);
  });

  it('reads the status and message grpc-go sends for a failure, percent-encoded as grpc-go does', async () => {
    const message = 'no such secret: "db/password" ✓ 100%';
    const error = await failureOf(mount(channel(), { code: String(GrpcStatus.NOT_FOUND), message }));
    expect([error.code, error.details]).to.deep.equal([GrpcStatus.NOT_FOUND, message]);
  });

  it('refuses an answer over the size limit', async () => {
    const error = await failureOf(mount(channel(1024), { size: '4096' }));
    expect(error.code).to.equal(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(error.details).to.match(/^Received message larger than max \(\d+ vs 1024\)$/);
  });

  it('fails a call past its deadline DEADLINE_EXCEEDED, and the connection serves the next', async () => {
    const shared = channel();
    const error = await failureOf(mount(shared, { delay: '5000' }, new Date(Date.now() + 200)));
    expect([error.code, error.details]).to.deep.equal([GrpcStatus.DEADLINE_EXCEEDED, 'Deadline exceeded']);
    expect((await mount(shared, {})).files).to.have.length(1);
  });

  it('fails UNAVAILABLE when the provider stops, and connects again once it is back', async () => {
    const shared = channel();
    await mount(shared, {});
    const exited = new Promise((resolve) => provider!.once('exit', resolve));
    provider!.kill('SIGTERM');
    await exited;
    await rm(socketPath, { force: true });
    expect((await failureOf(mount(shared, {}))).code).to.equal(GrpcStatus.UNAVAILABLE);
    provider = startGoProvider(binary, socketPath);
    await listening(socketPath);
    expect((await mount(shared, {})).files).to.have.length(1);
  });
});
