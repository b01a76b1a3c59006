import { existsSync } from 'node:fs';
import { mkdir, readdir } from 'node:fs/promises';
import { createServer, type Server as NetServer } from 'node:net';
import { dirname, join } from 'node:path';
import { credentials, type ServiceError } from '@grpc/grpc-js';
import { expect } from 'chai';
import { SystemClock } from '../../src/adapters/clock/system-clock.js';
import { ConsoleLogger } from '../../src/adapters/console-log/console-logger.js';
import { CsiNodeClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { startFakeProvider, type FakeProviderControls } from '../../src/adapters/fake-provider/fake-provider-server.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../../src/adapters/memory-metrics/memory-metrics.js';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../../src/app/config.js';
import { parseFlags } from '../../src/app/flags.js';
import { chooseMountMode, nodeFilesModule } from '../../src/app/modules/files.module.js';
import { memoryClusterModule } from '../../src/app/modules/memory-cluster.module.js';
import { grpcProviderModule } from '../../src/app/modules/provider.module.js';
import { startNodeAgent, type NodeAgent } from '../../src/app/node-agent.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import { VolumeContextKey } from '../../src/domain/volume-context.js';
import type { NodeClient } from '../../src/gen/csi/v1/Node.js';
import type { NodePublishVolumeRequest } from '../../src/gen/csi/v1/NodePublishVolumeRequest.js';
import { loadCsiProtos } from '../../src/gen/load.js';
import { aClassResource, aPodResource, type ClassResourceOptions } from '../support/cluster-builders.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';

export const NODE = 'node-1';
export const NAMESPACE = 'default';
export const CLASS = 'app-secrets';
export const POD_NAME = 'app-0';
/** Every raw CSI call of these tests ends within this bound, whatever the driver does. */
export const CALL_DEADLINE_MS = 10_000;

/** A listening unix socket that must never be dialed. */
export interface SocketTrap {
  readonly path: string;
  readonly connections: number;
}

export interface BadInputDriverOptions {
  /** GrpcSecretProvider's budget for one mount (handshake and retries included). */
  readonly providerCallTimeoutMs?: number;
  /** `--max-call-recv-msg-size`. */
  readonly maxCallRecvMsgSize?: number;
}

/**
 * The real node agent for bad-input tests: CSI on a unix socket, the in-memory cluster, real files
 * (tmpfs when this process can mount, else plain directories), and GrpcSecretProvider talking to the
 * fake provider over its own unix socket. Provider dirs are nested two levels below the sandbox root
 * so a provider name with `..` would resolve to a path still inside the sandbox.
 */
export class BadInputDriver {
  readonly metrics = new MemoryMetrics();
  readonly cluster = new InMemoryCluster({ clock: new SystemClock() });
  readonly log: string[] = [];
  private readonly listeners: NetServer[] = [];
  private readonly traps = new Map<string, SocketTrap>();
  private sandboxValue: TmpfsSandbox | undefined;
  private agentValue: NodeAgent | undefined;
  private providerValue: FakeProviderControls | undefined;
  private clientValue: CsiNodeClient | undefined;
  private rawValue: NodeClient | undefined;
  private configValue: DriverConfig | undefined;
  private podCount = 0;

  get sandbox(): TmpfsSandbox { return defined(this.sandboxValue, 'sandbox'); }
  get provider(): FakeProviderControls { return defined(this.providerValue, 'provider'); }
  /** The fake kubelet's client (kubelet's request shape, optional per-call deadline). */
  get client(): CsiNodeClient { return defined(this.clientValue, 'client'); }
  get config(): DriverConfig { return defined(this.configValue, 'config'); }
  /** `<root>/p/providers` (--provider-volume) */
  get providerDir(): string { return join(this.sandbox.root, 'p', 'providers'); }
  /** `<root>/p/extra` (--additional-provider-volume-paths) */
  get extraProviderDir(): string { return join(this.sandbox.root, 'p', 'extra'); }

  /** Starts everything; a failure part way leaves what started for `dispose`. */
  async start(options: BadInputDriverOptions = {}): Promise<this> {
    this.sandboxValue = await TmpfsSandbox.create('sscsi-badin-');
    await mkdir(this.providerDir, { recursive: true });
    await mkdir(this.extraProviderDir, { recursive: true });
    this.providerValue = await startFakeProvider({ socketPath: join(this.providerDir, 'fake.sock') });
    this.configValue = driverConfig(
      parseFlags(DRIVER_FLAGS, [
        `--endpoint=unix://${join(this.sandbox.root, 'csi.sock')}`,
        `--nodeid=${NODE}`,
        `--kubelet-root=${this.sandbox.kubeletRoot}`,
        `--provider-volume=${this.providerDir}`,
        `--additional-provider-volume-paths=${this.extraProviderDir}`,
        `--max-call-recv-msg-size=${options.maxCallRecvMsgSize ?? 4_194_304}`,
        '--cluster=memory',
      ]),
    );
    const clock = new SystemClock();
    const logger = new ConsoleLogger({ json: false, verbosity: 4, write: (line) => this.log.push(line), now: () => new Date() });
    this.agentValue = await startNodeAgent(
      this.config,
      { clock, logger, metrics: this.metrics },
      {
        cluster: memoryClusterModule(this.cluster),
        files: nodeFilesModule(await chooseMountMode(true, logger), this.config.kubeletRoot),
        provider: grpcProviderModule({
          providerVolume: this.config.providerVolume,
          additionalProviderVolumePaths: this.config.additionalProviderVolumePaths,
          maxCallRecvMsgSize: this.config.maxCallRecvMsgSize,
          retry: { backoffMs: 10 },
          ...(options.providerCallTimeoutMs === undefined ? {} : { callTimeoutMs: options.providerCallTimeoutMs }),
        }),
      },
      'bad-input-test',
    );
    this.clientValue = new CsiNodeClient(this.agentValue.csi.address);
    this.rawValue = new (loadCsiProtos().csi.v1.Node)(`unix://${this.agentValue.csi.address}`, credentials.createInsecure());
    return this;
  }

  /** Stops every piece that started, each even when another fails, then removes mounts and files. */
  async dispose(): Promise<void> {
    const steps: (() => unknown)[] = [
      () => this.clientValue?.close(),
      () => this.rawValue?.close(),
      () => this.agentValue?.stop(),
      () => this.providerValue?.stop(),
      ...this.listeners.map((listener) => () => new Promise((resolve) => listener.close(resolve))),
      () => this.sandboxValue?.dispose(),
    ];
    for (const step of steps) await Promise.resolve().then(step).catch(() => undefined);
  }

  /** Puts a class in the cluster (provider `fake` and one object unless told otherwise). */
  addClass(options: ClassResourceOptions = {}): void {
    this.cluster.create(aClassResource({ namespace: NAMESPACE, name: CLASS, ...options }));
  }

  /** A fresh pod (in the cluster) and kubelet's publish command for it, its volume dir created. */
  async newPod(className = CLASS): Promise<PublishCommand> {
    const uid = `00000000-0000-4000-8000-${String(++this.podCount).padStart(12, '0')}`;
    const name = `${POD_NAME}-${this.podCount}`;
    this.cluster.create(aPodResource({ namespace: NAMESPACE, name, uid, nodeName: NODE }));
    const targetPath = this.sandbox.targetPath(uid, 'secrets-store');
    await mkdir(dirname(targetPath), { recursive: true });
    return {
      volumeId: `csi-${uid.replace(/-/g, '')}`,
      targetPath,
      readonly: true,
      volumeContext: {
        [VolumeContextKey.secretProviderClass]: className,
        [VolumeContextKey.podName]: name,
        [VolumeContextKey.podNamespace]: NAMESPACE,
        [VolumeContextKey.podUid]: uid,
        [VolumeContextKey.serviceAccountName]: 'app',
        [VolumeContextKey.ephemeral]: 'true',
      },
      secrets: {},
    };
  }

  /** Sends a raw NodePublishVolume and resolves with its failure (rejects if it succeeded). */
  publishFailure(request: NodePublishVolumeRequest): Promise<ServiceError> {
    const raw = defined(this.rawValue, 'raw client');
    return new Promise((resolve, reject) => {
      raw.nodePublishVolume(request, { deadline: Date.now() + CALL_DEADLINE_MS }, (error) => {
        if (error) resolve(error);
        else reject(new Error('expected NodePublishVolume to fail, it succeeded'));
      });
    });
  }

  /** Sends a raw NodeUnpublishVolume and resolves with its failure (rejects if it succeeded). */
  unpublishFailure(request: { volumeId: string; targetPath: string }): Promise<ServiceError> {
    const raw = defined(this.rawValue, 'raw client');
    return new Promise((resolve, reject) => {
      raw.nodeUnpublishVolume(request, { deadline: Date.now() + CALL_DEADLINE_MS }, (error) => {
        if (error) resolve(error);
        else reject(new Error('expected NodeUnpublishVolume to fail, it succeeded'));
      });
    });
  }

  /** node_publish_error_total for one error_type (all providers, or the one given). */
  publishErrors(errorType: string, provider?: string): number {
    return this.metrics.count('node_publish_error_total', { error_type: errorType, ...(provider === undefined ? {} : { provider }) });
  }

  /** A unix socket listening at `path` (one per path, kept until dispose) that only counts the connections made to it. */
  async trapSocket(path: string): Promise<SocketTrap> {
    const existing = this.traps.get(path);
    if (existing !== undefined) return existing;
    await mkdir(dirname(path), { recursive: true });
    let connections = 0;
    const listener = createServer((socket) => {
      connections++;
      socket.destroy();
    });
    this.listeners.push(listener);
    await new Promise<void>((resolve, reject) => {
      listener.once('error', reject);
      listener.listen(path, () => resolve());
    });
    const trap: SocketTrap = { path, get connections() { return connections; } };
    this.traps.set(path, trap);
    return trap;
  }

  /** Mount points at or under `path`. */
  async mountsAt(path: string): Promise<string[]> {
    return (await this.sandbox.mountPoints()).filter((point) => point === path || point.startsWith(`${path}/`));
  }

  /** Nothing was written: the target directory does not exist and nothing is mounted under the kubelet root. */
  async expectNothingAt(target: string): Promise<void> {
    if (existsSync(target)) expect.fail(`${target} exists, holding ${JSON.stringify(await readdir(target))}`);
    expect(await this.mountsAt(target), 'mounts at the target').to.deep.equal([]);
    expect(await this.mountsAt(this.sandbox.kubeletRoot), 'mounts under the kubelet root').to.deep.equal([]);
  }

  logs(): string {
    return `\ndriver log:\n${this.log.join('\n')}`;
  }
}

function defined<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`${what} is not started`);
  return value;
}
