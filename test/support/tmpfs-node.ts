import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { ManualClock } from '../../src/adapters/clock/manual-clock.js';
import { CsiNodeClient } from '../../src/adapters/fake-kubelet/csi-node-client.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../../src/adapters/memory-metrics/memory-metrics.js';
import { DRIVER_FLAGS, driverConfig, type DriverConfig } from '../../src/app/config.js';
import { parseFlags } from '../../src/app/flags.js';
import { nodeFilesModule } from '../../src/app/modules/files.module.js';
import { memoryClusterModule } from '../../src/app/modules/memory-cluster.module.js';
import { givenProviderModule } from '../../src/app/modules/provider.module.js';
import { startNodeAgent, type NodeAgent } from '../../src/app/node-agent.js';
import type { ProviderMountRequest, ProviderMountResponse } from '../../src/domain/provider-request.js';
import type { SecretFile } from '../../src/domain/secret-payload.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import type { SecretProvider } from '../../src/ports/secret-provider.js';
import { aPublishCommand } from './builders.js';
import { aClassResource, aPodResource, type ClassResourceOptions } from './cluster-builders.js';
import { CollectingLogger } from './driver-harness.js';
import { findMount, parseMountInfo, type MountInfoEntry } from './mount-table.js';
import { TmpfsSandbox } from './tmpfs-sandbox.js';

const run = promisify(execFile);

/** A provider answering every Mount with the files it holds now, as one object whose version moves with them. */
export class PayloadProvider implements SecretProvider {
  readonly requests: ProviderMountRequest[] = [];
  private version = 1;

  constructor(private files: readonly SecretFile[]) {}

  /** The next answers carry these files, as a new version of the object. */
  replace(files: readonly SecretFile[]): void {
    this.files = files;
    this.version++;
  }

  async mount(_provider: string, request: ProviderMountRequest): Promise<ProviderMountResponse> {
    this.requests.push(request);
    return { objectVersions: [{ id: 'bundle', version: `v${this.version}` }], errorCode: '', files: this.files };
  }
}

/** One pod of the node: its uid and the command kubelet publishes its volume with. */
export interface NodePod {
  readonly uid: string;
  readonly name: string;
  readonly command: PublishCommand;
}

/**
 * A node agent on a real kubelet root in a tmpfs sandbox (real tmpfs mounts), an in-memory cluster on a
 * manual clock and a given provider, called over its CSI socket as kubelet calls it.
 */
export class TmpfsNode {
  readonly clock = new ManualClock();
  readonly cluster = new InMemoryCluster({ clock: this.clock });
  logger = new CollectingLogger();
  metrics = new MemoryMetrics();
  agent!: NodeAgent;
  kubelet!: CsiNodeClient;
  private pods = 0;

  private constructor(
    readonly sandbox: TmpfsSandbox,
    readonly config: DriverConfig,
    readonly provider: SecretProvider,
  ) {}

  /** `kubeletRoot` defaults to the sandbox's own; a test may pass a link to it. */
  static async start(provider: SecretProvider, classOptions: ClassResourceOptions = {}, kubeletRoot?: (sandbox: TmpfsSandbox) => Promise<string>): Promise<TmpfsNode> {
    const sandbox = await TmpfsSandbox.create('sscsi-node-');
    const root = kubeletRoot === undefined ? sandbox.kubeletRoot : await kubeletRoot(sandbox);
    const config = driverConfig(
      parseFlags(DRIVER_FLAGS, [
        `--endpoint=unix://${join(sandbox.root, 'csi.sock')}`,
        '--nodeid=node-1',
        `--kubelet-root=${root}`,
        '--cluster=memory',
        '--enable-secret-rotation',
        '--rotation-poll-interval=10s',
        '--rotation-jitter=0',
      ]),
    );
    const node = new TmpfsNode(sandbox, config, provider);
    node.cluster.create(aClassResource(classOptions));
    await node.startAgent();
    return node;
  }

  /** Starts a (new) driver process's worth of node agent over the same cluster, provider and mounts. */
  async startAgent(): Promise<void> {
    this.logger = new CollectingLogger();
    this.metrics = new MemoryMetrics();
    this.agent = await startNodeAgent(
      this.config,
      { clock: this.clock, logger: this.logger, metrics: this.metrics },
      { cluster: memoryClusterModule(this.cluster), files: nodeFilesModule('tmpfs', this.config.kubeletRoot), provider: givenProviderModule(this.provider) },
      'tmpfs-node-test',
    );
    this.kubelet = new CsiNodeClient(this.agent.csi.address);
  }

  async stopAgent(): Promise<void> {
    this.kubelet.close();
    await this.agent.stop();
  }

  async dispose(): Promise<void> {
    await this.stopAgent().catch(() => undefined);
    await this.sandbox.dispose();
  }

  /** A pod in the cluster and its volume directory, as kubelet prepares it; `fsGroup` is passed as volume_mount_group. */
  async addPod(fsGroup?: number): Promise<NodePod> {
    const index = ++this.pods;
    const uid = `7e57ab1e-0000-4000-8000-${String(index).padStart(12, '0')}`;
    const name = `app-${index}`;
    this.cluster.create(aPodResource({ name, uid }));
    const targetPath = join(this.config.kubeletRoot, 'pods', uid, 'volumes', 'kubernetes.io~csi', 'secrets', 'mount');
    await mkdir(dirname(targetPath), { recursive: true });
    const command = aPublishCommand({
      podUid: uid,
      podName: name,
      volumeId: `csi-${index}`,
      targetPath,
      ...(fsGroup === undefined ? {} : { volumeMountGroup: String(fsGroup) }),
    });
    return { uid, name, command };
  }

  async publish(pod: NodePod): Promise<void> {
    await this.kubelet.publish(pod.command);
    await this.cluster.whenIdle();
  }

  async unpublish(pod: NodePod): Promise<void> {
    await this.kubelet.unpublish({ volumeId: pod.command.volumeId, targetPath: pod.command.targetPath });
    await this.cluster.whenIdle();
  }

  /** Moves time past the rotation interval and runs the checks that fall due. */
  async rotate(): Promise<void> {
    this.clock.advance(10_000);
    await this.agent.reconciler.runDueChecks();
    await this.cluster.whenIdle();
  }

  /** The tmpfs mounted on a path, as /proc/self/mountinfo shows it. */
  async mountAt(path: string): Promise<MountInfoEntry | undefined> {
    return findMount(parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')), path);
  }

  eventMessages(reason: string): string[] {
    return this.cluster
      .list('Event')
      .filter((event) => event.reason === reason)
      .map((event) => event.message ?? '');
  }
}

/** What a process of another uid and groups reads at `path` (`cat` through setpriv): its text, or the error. */
export async function readAs(path: string, ids: { readonly uid: number; readonly gid: number; readonly groups?: readonly number[] }): Promise<string> {
  const groups = ids.groups === undefined || ids.groups.length === 0 ? ['--clear-groups'] : [`--groups=${ids.groups.join(',')}`];
  try {
    const { stdout } = await run('setpriv', [`--reuid=${ids.uid}`, `--regid=${ids.gid}`, ...groups, 'cat', path], { maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? String(error);
    return `error: ${stderr.trim()}`;
  }
}

/** A read-only bind mount of `source` at `at`: what a container sees of its volume. */
export async function bindReadOnly(source: string, at: string): Promise<void> {
  await mkdir(at, { recursive: true });
  await run('mount', ['--bind', source, at]);
  await run('mount', ['-o', 'remount,bind,ro', at]);
}

export async function unmountPath(path: string): Promise<void> {
  await run('umount', [path]).catch(() => run('umount', ['-l', path]));
}
