import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server as NetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'chai';
import { DomainError } from '../../src/domain/errors.js';
import type { ProviderMountRequest } from '../../src/domain/provider-request.js';
import type { LogFields, Logger } from '../../src/ports/logger.js';
import { GrpcSecretProvider, type GrpcSecretProviderOptions } from '../../src/adapters/provider-grpc/grpc-secret-provider.js';
import { INJECTED_FAILURE_MESSAGE, startFakeProvider, type FakeProviderControls, type FakeProviderOptions } from '../../src/adapters/fake-provider/fake-provider-server.js';
import { FakeSecretStore } from '../../src/adapters/fake-provider/fake-secret-store.js';
import { eventually } from '../contract/eventually.js';
import { text } from '../support/builders.js';
import { answer, framed, TestPeer } from '../support/grpc-test-peer.js';
import { MOUNT_RESPONSE } from '../../src/adapters/provider-grpc/provider-messages.js';

interface LogEntry {
  readonly level: string;
  readonly message: string;
  readonly fields: LogFields | undefined;
}

class RecordingLogger implements Logger {
  readonly entries: LogEntry[] = [];
  debug(message: string, fields?: LogFields): void { this.entries.push({ level: 'debug', message, fields }); }
  info(message: string, fields?: LogFields): void { this.entries.push({ level: 'info', message, fields }); }
  warn(message: string, fields?: LogFields): void { this.entries.push({ level: 'warn', message, fields }); }
  error(message: string, fields?: LogFields): void { this.entries.push({ level: 'error', message, fields }); }
}

function aMountRequest(overrides: Partial<ProviderMountRequest> & { objects?: string } = {}): ProviderMountRequest {
  const { objects = '- {name: db-password}', ...rest } = overrides;
  return {
    attributes: JSON.stringify({ objects, secretProviderClass: 'app-secrets' }),
    secrets: 'null',
    targetPath: '/var/lib/kubelet/pods/uid-1/volumes/kubernetes.io~csi/secrets/mount',
    permission: '420',
    currentObjectVersion: [],
    ...rest,
  };
}

async function rejectionOf(promise: Promise<unknown>): Promise<DomainError> {
  try {
    await promise;
  } catch (error) {
    expect(error).to.be.instanceOf(DomainError);
    return error as DomainError;
  }
  throw new Error('expected a rejection');
}

describe('GrpcSecretProvider against a fake provider on a real unix socket', () => {
  let root: string;
  let providerDir: string;
  let extraDirs: string[];
  let logger: RecordingLogger;
  const started: FakeProviderControls[] = [];
  const clients: GrpcSecretProvider[] = [];

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'prov-'));
    providerDir = join(root, 'pv');
    extraDirs = [join(root, 'a1'), join(root, 'a2')];
    for (const dir of [providerDir, ...extraDirs]) await mkdir(dir);
    logger = new RecordingLogger();
  });

  afterEach(async () => {
    for (const client of clients.splice(0)) client.close();
    for (const fake of started.splice(0)) await fake.stop();
    await rm(root, { recursive: true, force: true });
  });

  async function fake(options: Partial<FakeProviderOptions> & { dir?: string; name?: string } = {}): Promise<FakeProviderControls> {
    const { dir = providerDir, name = 'fake', ...rest } = options;
    const controls = await startFakeProvider({ socketPath: join(dir, `${name}.sock`), ...rest });
    started.push(controls);
    return controls;
  }

  function client(options: Partial<GrpcSecretProviderOptions> = {}): GrpcSecretProvider {
    const provider = new GrpcSecretProvider(
      { providerVolume: providerDir, additionalProviderVolumePaths: extraDirs, maxCallRecvMsgSize: 4 * 1024 * 1024, retry: { backoffMs: 10 }, ...options },
      logger,
    );
    clients.push(provider);
    return provider;
  }

  describe('mounting', () => {
    it('returns the files, versions and an empty error code from the provider', async () => {
      await fake();
      const response = await client().mount('fake', aMountRequest({ objects: '- {name: db-password, path: db/pass, mode: 256}' }));
      expect(response.errorCode).to.equal('');
      expect(response.objectVersions).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
      expect(response.files).to.have.length(1);
      expect(response.files[0]!.path).to.equal('db/pass');
      expect(response.files[0]!.mode).to.equal(256);
      expect(response.files[0]!.contents).to.be.instanceOf(Uint8Array);
      expect(text(response.files[0]!.contents)).to.equal('db-password-v1');
    });

    it('sends every MountRequest field exactly as given', async () => {
      const provider = await fake();
      const request = aMountRequest({
        secrets: '{"clientid":"abc"}',
        permission: '420',
        currentObjectVersion: [{ id: 'db-password', version: 'v1' }, { id: 'key', version: 'v3' }],
      });
      await client().mount('fake', request);
      const seen = provider.lastMountRequest!;
      expect(seen.attributes).to.equal(request.attributes);
      expect(seen.secrets).to.equal('{"clientid":"abc"}');
      expect(seen.targetPath).to.equal(request.targetPath);
      expect(seen.permission).to.equal('420');
      expect(seen.currentObjectVersion).to.deep.equal([{ id: 'db-password', version: 'v1' }, { id: 'key', version: 'v3' }]);
    });

    it('calls with :authority localhost', async () => {
      const provider = await fake();
      await client().mount('fake', aMountRequest());
      expect(provider.lastAuthority).to.equal('localhost');
    });

    it('shakes hands with Version once per client and logs the provider runtime', async () => {
      const provider = await fake({ runtimeName: 'vault-provider', runtimeVersion: '1.2.3' });
      const secrets = client();
      await secrets.mount('fake', aMountRequest());
      await secrets.mount('fake', aMountRequest());
      expect(provider.versionCount).to.equal(1);
      expect(provider.mountCount).to.equal(2);
      const connected = logger.entries.find((entry) => entry.message === 'provider connected');
      expect(connected?.fields).to.include({ runtimeName: 'vault-provider', runtimeVersion: '1.2.3', provider: 'fake' });
    });

    it('reports a provider error code as a response, not a rejection', async () => {
      const provider = await fake();
      provider.setFailure({ code: 'AccessDenied' });
      const response = await client().mount('fake', aMountRequest());
      expect(response.errorCode).to.equal('AccessDenied');
    });

    it('returns the rotated contents and version after the store rotates', async () => {
      const provider = await fake();
      const secrets = client();
      await secrets.mount('fake', aMountRequest());
      provider.rotate('db-password', 'new-secret');
      const response = await secrets.mount('fake', aMountRequest({ currentObjectVersion: [{ id: 'db-password', version: 'v1' }] }));
      expect(response.objectVersions).to.deep.equal([{ id: 'db-password', version: 'v2' }]);
      expect(text(response.files[0]!.contents)).to.equal('new-secret');
    });
  });

  describe('socket discovery', () => {
    it('prefers the additional provider volume paths, in order, over the provider volume', async () => {
      const second = await fake({ dir: extraDirs[1]! });
      const last = await fake({ dir: providerDir });
      await client().mount('fake', aMountRequest());
      expect(second.mountCount).to.equal(1);
      expect(last.mountCount).to.equal(0);
    });

    it('falls back to the provider volume when no additional path has the socket', async () => {
      const last = await fake({ dir: providerDir });
      await client().mount('fake', aMountRequest());
      expect(last.mountCount).to.equal(1);
    });

    it('fails at once with ProviderUnavailable naming every socket path tried', async () => {
      const error = await rejectionOf(client().mount('absent', aMountRequest()));
      expect(error.code).to.equal('ProviderUnavailable');
      for (const dir of [...extraDirs, providerDir]) expect(error.message).to.include(join(dir, 'absent.sock'));
    });

    it('rejects a provider name that could escape the socket directories as InvalidClass', async () => {
      for (const name of ['../etc/x', 'a/b', '', 'x'.repeat(31), 'bad name']) {
        const error = await rejectionOf(client().mount(name, aMountRequest()));
        expect(error.code, name).to.equal('InvalidClass');
      }
    });

    it('follows a provider whose socket moves to another directory', async () => {
      const secrets = client();
      const before = await fake({ dir: providerDir });
      await secrets.mount('fake', aMountRequest());
      await before.stop();
      const after = await fake({ dir: extraDirs[0]! });
      await secrets.mount('fake', aMountRequest());
      expect(after.mountCount).to.equal(1);
      expect(after.versionCount).to.equal(1);
    });
  });

  describe('failures and reconnection', () => {
    it('mounts again after the provider restarts on the same socket', async () => {
      const store = new FakeSecretStore();
      const secrets = client();
      const first = await fake({ store });
      await secrets.mount('fake', aMountRequest());
      await first.stop();
      expect((await rejectionOf(secrets.mount('fake', aMountRequest()))).code).to.equal('ProviderUnavailable');
      const second = await fake({ store });
      const response = await secrets.mount('fake', aMountRequest());
      expect(response.objectVersions).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
      expect(second.mountCount).to.equal(1);
    });

    it('retries UNAVAILABLE and succeeds when the provider recovers within the attempts', async () => {
      const provider = await fake();
      provider.setFailure({ grpcStatus: 'UNAVAILABLE', times: 2 });
      const response = await client({ retry: { attempts: 3, backoffMs: 5 } }).mount('fake', aMountRequest());
      expect(response.errorCode).to.equal('');
      expect(provider.mountCount).to.equal(3);
    });

    it('gives up after the configured attempts with ProviderUnavailable', async () => {
      const provider = await fake();
      provider.setFailure({ grpcStatus: 'UNAVAILABLE' });
      const error = await rejectionOf(client({ retry: { attempts: 3, backoffMs: 5 } }).mount('fake', aMountRequest()));
      expect(error.code).to.equal('ProviderUnavailable');
      expect(provider.mountCount).to.equal(3);
    });

    it('reports a socket nobody serves gRPC on as ProviderUnavailable', async () => {
      const dead = await listenAndDropConnections(join(providerDir, 'dead.sock'));
      try {
        const error = await rejectionOf(client({ retry: { attempts: 2, backoffMs: 5 } }).mount('dead', aMountRequest()));
        expect(error.code).to.equal('ProviderUnavailable');
        expect(error.message).to.include(join(providerDir, 'dead.sock'));
      } finally {
        await new Promise((resolve) => dead.close(resolve));
      }
    });

    it('reports a call past its deadline as ProviderUnavailable that timed out', async () => {
      const provider = await fake();
      provider.setFailure({ delayMs: 1000 });
      const error = await rejectionOf(client({ callTimeoutMs: 150 }).mount('fake', aMountRequest()));
      expect(error.code).to.equal('ProviderUnavailable');
      expect(error.message).to.include('timed out');
    });

    it('reports any other gRPC failure as ProviderError carrying the status name', async () => {
      const provider = await fake();
      for (const grpcStatus of ['INTERNAL', 'NOT_FOUND', 'PERMISSION_DENIED'] as const) {
        provider.setFailure({ grpcStatus });
        const error = await rejectionOf(client().mount('fake', aMountRequest()));
        expect(error.code).to.equal('ProviderError');
        expect(error.providerCode).to.equal(grpcStatus);
      }
    });

    it('rejects a response larger than maxCallRecvMsgSize and accepts one that fits', async () => {
      const big = 'x'.repeat(64 * 1024);
      await fake();
      const request = aMountRequest({ attributes: JSON.stringify({ objects: '- {name: big}', seed: JSON.stringify({ big }) }) });
      const error = await rejectionOf(client({ maxCallRecvMsgSize: 16 * 1024 }).mount('fake', request));
      expect(error.code).to.equal('ProviderMessageTooLarge');
      expect(error.providerCode).to.equal('RESOURCE_EXHAUSTED');
      expect(error.message).to.match(/^provider "fake" answered with \d+ bytes, more than --max-call-recv-msg-size \(16384\)$/);
      const response = await client({ maxCallRecvMsgSize: 128 * 1024 }).mount('fake', request);
      expect(response.files[0]!.contents.byteLength).to.equal(big.length);
    });

    it('cancels a call given up through its signal: the provider sees the cancellation and the caller gets Cancelled', async () => {
      const provider = await fake();
      provider.setFailure({ delayMs: 600_000 });
      const controller = new AbortController();
      const call = client().mount('fake', aMountRequest(), { signal: controller.signal });
      await eventually(() => expect(provider.mountsInFlight).to.equal(1), 10_000);

      controller.abort();

      const error = await rejectionOf(call);
      expect(error.code).to.equal('Cancelled');
      expect(error.message).to.equal('call to provider "fake" cancelled: the check was given up');
      await eventually(() => expect([provider.cancelledMounts, provider.mountsInFlight]).to.deep.equal([1, 0]), 10_000);
    });

    it('refuses a call given up before it starts, after the handshake as before it: Cancelled, and the provider sees no Mount', async () => {
      const provider = await fake();
      const secrets = client();
      const givenUp = (): AbortSignal => {
        const controller = new AbortController();
        controller.abort();
        return controller.signal;
      };
      const before = await rejectionOf(secrets.mount('fake', aMountRequest(), { signal: givenUp() }));
      await secrets.mount('fake', aMountRequest());

      const after = await rejectionOf(secrets.mount('fake', aMountRequest(), { signal: givenUp() }));

      for (const error of [before, after]) {
        expect(error.code).to.equal('Cancelled');
        expect(error.message).to.equal('call to provider "fake" cancelled: the check was given up');
      }
      expect([provider.mountCount, provider.cancelledMounts]).to.deep.equal([1, 0]);
    });

    it("gives a call its own deadline when it brings one, and names it when it passes", async () => {
      const provider = await fake();
      provider.setFailure({ delayMs: 600_000 });

      const error = await rejectionOf(client({ callTimeoutMs: 600_000 }).mount('fake', aMountRequest(), { timeoutMs: 300 }));

      expect(error.code).to.equal('ProviderUnavailable');
      expect(error.message).to.match(/^provider "fake" at .*fake\.sock timed out after 300ms$/);
      await eventually(() => expect(provider.mountsInFlight).to.equal(0), 10_000);
    });

    it("keeps the calls under way on a channel when another call's UNAVAILABLE replaces it: each fails only for its own answer", async () => {
      const provider = await fake();
      const secrets = client({ retry: { attempts: 1 } });
      const failures: string[] = [];
      let answered = 0;
      for (let round = 0; round < 20; round++) {
        const calls: Promise<void>[] = [];
        for (let i = 0; i < 40; i++) {
          // Every other arriving call is answered UNAVAILABLE; the calls arrive staggered, so some are on their
          // way (handshake done, call not yet started) when a failed one replaces the channel.
          if (i % 2 === 0) provider.setFailure({ grpcStatus: 'UNAVAILABLE', times: 1 });
          else provider.clearFailure();
          calls.push(secrets.mount('fake', aMountRequest()).then(() => void answered++, (error: DomainError) => void failures.push(error.message)));
          await new Promise((resolve) => setTimeout(resolve, i % 3));
        }
        await Promise.all(calls);
      }
      expect(failures.filter((message) => !message.endsWith(INJECTED_FAILURE_MESSAGE))).to.deep.equal([]);
      expect(answered + failures.length).to.equal(800);
      expect(answered).to.be.greaterThan(0);
    });

    it('retries a call whose connection the provider drops mid-call on a new connection, and mounts', async () => {
      const mounted = framed(MOUNT_RESPONSE.encode({ objectVersion: [{ id: 'db-password', version: 'v1' }], error: null, files: [] }));
      let mounts = 0;
      const peer = await TestPeer.listen(join(providerDir, 'dropping.sock'), (stream, headers) => {
        if (headers[':path'] !== '/v1alpha1.CSIDriverProvider/Mount') return answer(stream);
        if (++mounts === 1) return stream.session?.destroy();
        answer(stream, mounted);
      });
      try {
        const response = await client({ retry: { attempts: 2, backoffMs: 5 } }).mount('dropping', aMountRequest());
        expect(response.objectVersions).to.deep.equal([{ id: 'db-password', version: 'v1' }]);
        expect(mounts).to.equal(2);
        expect(peer.sessions).to.have.length(2);
        expect(logger.entries.filter((entry) => entry.message === 'provider unavailable; retrying')).to.have.length(1);
      } finally {
        await peer.stop();
      }
    });

    it('opens a fresh client after close()', async () => {
      const provider = await fake();
      const secrets = client();
      await secrets.mount('fake', aMountRequest());
      secrets.close();
      await secrets.mount('fake', aMountRequest());
      expect(provider.versionCount).to.equal(2);
    });
  });
});

describe('the fake provider', () => {
  let root: string;
  let provider: FakeProviderControls;
  let secrets: GrpcSecretProvider;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'fakep-'));
    provider = await startFakeProvider({ socketPath: join(root, 'fake.sock'), controlPort: 0 });
    secrets = new GrpcSecretProvider({ providerVolume: root, additionalProviderVolumePaths: [], maxCallRecvMsgSize: 1 << 22 }, new RecordingLogger());
  });

  afterEach(async () => {
    secrets.close();
    await provider.stop();
    await rm(root, { recursive: true, force: true });
  });

  it('seeds unknown objects from the seed attribute', async () => {
    const attributes = JSON.stringify({ objects: '[{"name":"api-key"},{"name":"cert"}]', seed: 'api-key: {contents: s3cret, version: v7}' });
    const response = await secrets.mount('fake', aMountRequest({ attributes }));
    expect(response.objectVersions).to.deep.equal([{ id: 'api-key', version: 'v7' }, { id: 'cert', version: 'v1' }]);
    expect(response.files.map((file) => text(file.contents))).to.deep.equal(['s3cret', 'cert-v1']);
  });

  it('accepts a plain list of object names and uses the request permission as the mode', async () => {
    const response = await secrets.mount('fake', aMountRequest({ objects: 'a, b', permission: '256' }));
    expect(response.files.map((file) => [file.path, file.mode])).to.deep.equal([['a', 256], ['b', 256]]);
  });

  it('answers INVALID_ARGUMENT for unreadable objects', async () => {
    const error = await rejectionOf(secrets.mount('fake', aMountRequest({ objects: '- {path: no-name}' })));
    expect(error.providerCode).to.equal('INVALID_ARGUMENT');
  });

  it('is driven through its HTTP control endpoint', async () => {
    const rotated = await fetch(`${provider.controlUrl}/rotate`, { method: 'POST', body: JSON.stringify({ name: 'db-password' }) });
    expect(await rotated.json()).to.deep.equal({ name: 'db-password', version: 'v2' });
    expect((await fetch(`${provider.controlUrl}/failure`, { method: 'PUT', body: JSON.stringify({ code: 'Throttled' }) })).status).to.equal(204);
    expect((await secrets.mount('fake', aMountRequest())).errorCode).to.equal('Throttled');
    expect((await fetch(`${provider.controlUrl}/failure`, { method: 'DELETE' })).status).to.equal(204);
    expect((await secrets.mount('fake', aMountRequest())).objectVersions).to.deep.equal([{ id: 'db-password', version: 'v2' }]);
    const state = (await (await fetch(`${provider.controlUrl}/state`)).json()) as Record<string, unknown>;
    expect(state).to.deep.equal({
      mountCount: 2,
      versionCount: 1,
      mountsInFlight: 0,
      cancelledMounts: 0,
      failure: null,
      objects: [{ name: 'db-password', version: 'v2' }],
    });
  });
});

/** A unix socket that accepts connections and drops them at once: a provider that is not serving. */
async function listenAndDropConnections(socketPath: string): Promise<NetServer> {
  const server = createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
  return server;
}
