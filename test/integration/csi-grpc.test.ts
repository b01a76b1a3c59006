import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentials, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { DOMAIN_ERROR_CODES, DomainError, type DomainErrorCode } from '../../src/domain/errors.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import { loadCsiProtos } from '../../src/gen/load.js';
import type { ControllerClient } from '../../src/gen/csi/v1/Controller.js';
import type { IdentityClient } from '../../src/gen/csi/v1/Identity.js';
import type { NodeClient } from '../../src/gen/csi/v1/Node.js';
import type { NodePublishVolumeRequest } from '../../src/gen/csi/v1/NodePublishVolumeRequest.js';
import type { LogFields, Logger } from '../../src/ports/logger.js';
import type { NodeVolumes, UnpublishCommand } from '../../src/ports/node-volumes.js';
import { grpcStatusFor } from '../../src/adapters/csi-grpc/error-status.js';
import { startCsiServer, type CsiServer } from '../../src/adapters/csi-grpc/csi-server.js';
import { targetPathFor } from '../support/builders.js';

/** NodeVolumes double: records every command and fails with `failure` when one is set. */
class RecordingNodeVolumes implements NodeVolumes {
  readonly published: PublishCommand[] = [];
  readonly unpublished: UnpublishCommand[] = [];
  failure: unknown;

  async publish(command: PublishCommand): Promise<void> {
    this.published.push(command);
    if (this.failure !== undefined) throw this.failure;
  }

  async unpublish(command: UnpublishCommand): Promise<void> {
    this.unpublished.push(command);
    if (this.failure !== undefined) throw this.failure;
  }
}

class RecordingLogger implements Logger {
  readonly lines: string[] = [];
  debug(message: string, fields?: LogFields): void { this.lines.push(JSON.stringify({ message, ...fields })); }
  info(message: string, fields?: LogFields): void { this.lines.push(JSON.stringify({ message, ...fields })); }
  warn(message: string, fields?: LogFields): void { this.lines.push(JSON.stringify({ message, ...fields })); }
  error(message: string, fields?: LogFields): void { this.lines.push(JSON.stringify({ message, ...fields })); }
}

type Callback<T> = (error: ServiceError | null, value?: T) => void;

/** Calls a unary method of a generated client and resolves with the response or the ServiceError. */
function call<Res>(invoke: (callback: Callback<Res>) => unknown): Promise<Res> {
  return new Promise((resolve, reject) => invoke((error, value) => (error ? reject(error) : resolve(value!))));
}

async function failureOf(promise: Promise<unknown>): Promise<ServiceError> {
  try {
    await promise;
  } catch (error) {
    return error as ServiceError;
  }
  throw new Error('expected the call to fail');
}

function aPublishRequest(overrides: Partial<NodePublishVolumeRequest> = {}): NodePublishVolumeRequest {
  return {
    volumeId: 'csi-0123abcd',
    targetPath: targetPathFor('pod-uid-1'),
    volumeCapability: { mount: { fsType: '', mountFlags: [] }, accessMode: { mode: 'SINGLE_NODE_WRITER' } },
    readonly: true,
    volumeContext: { secretProviderClass: 'app-secrets', 'csi.storage.k8s.io/pod.uid': 'pod-uid-1' },
    secrets: {},
    ...overrides,
  };
}

describe('CSI gRPC server on a real unix socket', () => {
  let root: string;
  let socketPath: string;
  let volumes: RecordingNodeVolumes;
  let logger: RecordingLogger;
  let server: CsiServer | undefined;
  let node: NodeClient;
  let identity: IdentityClient;
  let controller: ControllerClient;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'csi-'));
    socketPath = join(root, 'plugins', 'csi.sock');
    volumes = new RecordingNodeVolumes();
    logger = new RecordingLogger();
    server = await startCsiServer({
      endpoint: `unix://${socketPath}`,
      driverName: 'secrets-store.csi.k8s.io',
      version: '1.2.3',
      nodeId: 'node-a',
      volumes,
      logger,
    });
    const protos = loadCsiProtos();
    node = new protos.csi.v1.Node(`unix://${socketPath}`, credentials.createInsecure());
    identity = new protos.csi.v1.Identity(`unix://${socketPath}`, credentials.createInsecure());
    controller = new protos.csi.v1.Controller(`unix://${socketPath}`, credentials.createInsecure());
  });

  afterEach(async () => {
    for (const client of [node, identity, controller] as Client[]) client.close();
    await server?.stop(1000);
    await rm(root, { recursive: true, force: true });
  });

  describe('Identity', () => {
    it('names the driver and its version', async () => {
      const info = await call<{ name: string; vendorVersion: string }>((cb) => identity.getPluginInfo({}, cb));
      expect(info).to.include({ name: 'secrets-store.csi.k8s.io', vendorVersion: '1.2.3' });
    });

    it('advertises no plugin capability (in particular no CONTROLLER_SERVICE)', async () => {
      const caps = await call<{ capabilities: unknown[] }>((cb) => identity.getPluginCapabilities({}, cb));
      expect(caps.capabilities).to.deep.equal([]);
    });

    it('answers controller capabilities with only UNKNOWN, which csi-sanity needs, without advertising the service', async () => {
      const caps = await call<{ capabilities: unknown[] }>((cb) => controller.controllerGetCapabilities({}, cb));
      expect(caps.capabilities).to.deep.equal([{ rpc: { type: 'UNKNOWN' }, type: 'rpc' }]);
      const other = await failureOf(call((cb) => controller.makeUnaryRequest('/csi.v1.Controller/CreateVolume', () => Buffer.alloc(0), (b: Buffer) => b, {}, cb)));
      expect(other.code).to.equal(status.UNIMPLEMENTED);
    });

    it('probes ready', async () => {
      const probe = await call<{ ready: { value: boolean } | null }>((cb) => identity.probe({}, cb));
      expect(probe.ready).to.deep.equal({ value: true });
    });
  });

  describe('Node', () => {
    it('passes every NodePublishVolume field to NodeVolumes.publish', async () => {
      const request = aPublishRequest({
        volumeContext: { secretProviderClass: 'app-secrets', 'csi.storage.k8s.io/pod.name': 'app-0' },
        secrets: { clientid: 'id', clientsecret: 'shh' },
      });
      await call((cb) => node.nodePublishVolume(request, cb));
      expect(volumes.published).to.deep.equal([
        {
          volumeId: 'csi-0123abcd',
          targetPath: targetPathFor('pod-uid-1'),
          readonly: true,
          volumeContext: { secretProviderClass: 'app-secrets', 'csi.storage.k8s.io/pod.name': 'app-0' },
          secrets: { clientid: 'id', clientsecret: 'shh' },
        },
      ]);
    });

    it('passes readonly false through for the core to reject', async () => {
      await call((cb) => node.nodePublishVolume(aPublishRequest({ readonly: false }), cb));
      expect(volumes.published[0]!.readonly).to.equal(false);
    });

    it('passes NodeUnpublishVolume to NodeVolumes.unpublish', async () => {
      await call((cb) => node.nodeUnpublishVolume({ volumeId: 'csi-1', targetPath: targetPathFor('u') }, cb));
      expect(volumes.unpublished).to.deep.equal([{ volumeId: 'csi-1', targetPath: targetPathFor('u') }]);
    });

    const invalidPublishes: [string, Partial<NodePublishVolumeRequest>, string][] = [
      ['volume_id', { volumeId: '' }, 'volume_id'],
      ['target_path', { targetPath: '' }, 'target_path'],
      ['volume_capability', { volumeCapability: null }, 'volume_capability'],
    ];
    for (const [field, overrides, mentioned] of invalidPublishes) {
      it(`rejects a NodePublishVolume without ${field} as INVALID_ARGUMENT before reaching the core`, async () => {
        const error = await failureOf(call((cb) => node.nodePublishVolume(aPublishRequest(overrides), cb)));
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        expect(error.details).to.include(mentioned);
        expect(volumes.published).to.deep.equal([]);
      });
    }

    it('rejects a block volume capability as INVALID_ARGUMENT', async () => {
      const request = aPublishRequest({ volumeCapability: { block: {}, accessMode: { mode: 'SINGLE_NODE_WRITER' } } });
      const error = await failureOf(call((cb) => node.nodePublishVolume(request, cb)));
      expect(error.code).to.equal(status.INVALID_ARGUMENT);
    });

    for (const field of ['volumeId', 'targetPath'] as const) {
      it(`rejects a NodeUnpublishVolume without ${field} as INVALID_ARGUMENT`, async () => {
        const request = { volumeId: 'csi-1', targetPath: targetPathFor('u'), [field]: '' };
        const error = await failureOf(call((cb) => node.nodeUnpublishVolume(request, cb)));
        expect(error.code).to.equal(status.INVALID_ARGUMENT);
        expect(volumes.unpublished).to.deep.equal([]);
      });
    }

    it('answers each DomainError with its mapped status and message', async () => {
      for (const code of DOMAIN_ERROR_CODES.filter((c): c is Exclude<DomainErrorCode, 'Internal'> => c !== 'Internal')) {
        volumes.failure = new DomainError(code, `failed with ${code}`);
        const error = await failureOf(call((cb) => node.nodePublishVolume(aPublishRequest(), cb)));
        expect(error.code, code).to.equal(grpcStatusFor(code));
        expect(error.details, code).to.equal(`failed with ${code}`);
      }
    });

    it('answers an unknown error and an Internal DomainError with INTERNAL and a generic message', async () => {
      for (const failure of [new Error('/secret/path exploded'), new DomainError('Internal', 'detail that stays inside')]) {
        volumes.failure = failure;
        const error = await failureOf(call((cb) => node.nodeUnpublishVolume({ volumeId: 'v', targetPath: '/t' }, cb)));
        expect(error.code).to.equal(status.INTERNAL);
        expect(error.details).to.equal('internal error');
      }
    });

    it('answers UNIMPLEMENTED for stage, unstage, volume stats and expand', async () => {
      const calls = [
        (cb: Callback<unknown>) => node.nodeStageVolume({ volumeId: 'v', stagingTargetPath: '/s' }, cb),
        (cb: Callback<unknown>) => node.nodeUnstageVolume({ volumeId: 'v', stagingTargetPath: '/s' }, cb),
        (cb: Callback<unknown>) => node.nodeGetVolumeStats({ volumeId: 'v', volumePath: '/p' }, cb),
        (cb: Callback<unknown>) => node.nodeExpandVolume({ volumeId: 'v', volumePath: '/p' }, cb),
      ];
      for (const invoke of calls) expect((await failureOf(call(invoke))).code).to.equal(status.UNIMPLEMENTED);
    });

    it('advertises VOLUME_MOUNT_GROUP only, so kubelet passes a pod\'s fsGroup', async () => {
      const caps = await call<{ capabilities: unknown[] }>((cb) => node.nodeGetCapabilities({}, cb));
      expect(caps.capabilities).to.deep.equal([{ rpc: { type: 'VOLUME_MOUNT_GROUP' }, type: 'rpc' }]);
    });

    it('reports the node id and no volume limit', async () => {
      const info = await call<{ nodeId: string; maxVolumesPerNode: string }>((cb) => node.nodeGetInfo({}, cb));
      expect(info).to.include({ nodeId: 'node-a', maxVolumesPerNode: '0' });
    });
  });

  describe('logging', () => {
    it('logs each call with its method and code but never a secret or token', async () => {
      const tokens = '{"vault":{"token":"eyJ-token-value","expirationTimestamp":"2030-01-01T00:00:00Z"}}';
      const request = aPublishRequest({
        secrets: { clientsecret: 'the-client-secret', 'csi.storage.k8s.io/serviceAccount.tokens': tokens },
        volumeContext: { secretProviderClass: 'app-secrets', 'csi.storage.k8s.io/serviceAccount.tokens': tokens },
      });
      await call((cb) => node.nodePublishVolume(request, cb));
      volumes.failure = new DomainError('ProviderUnavailable', 'provider down');
      await failureOf(call((cb) => node.nodePublishVolume(request, cb)));
      const log = logger.lines.join('\n');
      expect(log).to.include('"method":"NodePublishVolume"').and.include('"code":"OK"').and.include('"code":"UNAVAILABLE"');
      expect(log).to.include('clientsecret').and.include('[REDACTED]');
      expect(log).not.to.include('the-client-secret');
      expect(log).not.to.include('eyJ-token-value');
    });
  });

  describe('lifecycle', () => {
    it('removes a stale socket file and creates the socket directory before binding', async () => {
      await server!.stop(1000);
      const stalePath = join(root, 'fresh', 'dir', 'csi.sock');
      await mkdir(join(root, 'fresh', 'dir'), { recursive: true });
      await writeFile(stalePath, 'left over by a crashed driver');
      server = await startCsiServer({ endpoint: `unix://${stalePath}`, driverName: 'd.example', version: '1', nodeId: 'n', volumes, logger });
      expect((await stat(stalePath)).isSocket()).to.equal(true);
      expect(server.address).to.equal(stalePath);
    });

    it('removes its socket when stopped', async () => {
      await server!.stop(1000);
      server = undefined;
      const error = await stat(socketPath).catch((e: NodeJS.ErrnoException) => e);
      expect((error as NodeJS.ErrnoException).code).to.equal('ENOENT');
    });

    it('stops within the grace period even when a call never finishes', async () => {
      volumes.publish = () => new Promise<void>(() => undefined);
      const hanging = failureOf(call((cb) => node.nodePublishVolume(aPublishRequest(), cb)));
      await new Promise((resolve) => setTimeout(resolve, 50));
      await server!.stop(100);
      server = undefined;
      expect((await hanging).code).to.equal(status.CANCELLED);
    });

    it('refuses relative, non-unix and over-long endpoints', async () => {
      for (const endpoint of ['unix://tmp/csi.sock', 'tcp://127.0.0.1:10000', `unix:///${'x'.repeat(120)}.sock`]) {
        let failed = false;
        await startCsiServer({ endpoint, driverName: 'd', version: '1', nodeId: 'n', volumes, logger }).catch(() => (failed = true));
        expect(failed, endpoint).to.equal(true);
      }
    });
  });
});
