import { Container } from 'inversify';
import { Volume } from 'memfs';
import { ManualClock } from '../../src/adapters/clock/manual-clock.js';
import { InProcessSecretProvider } from '../../src/adapters/fake-provider/in-process-provider.js';
import type { FakeSecretStore } from '../../src/adapters/fake-provider/fake-secret-store.js';
import type {
  EventResource,
  PodStatusResource,
  SecretProviderClassResource,
  SecretResource,
} from '../../src/adapters/kube-objects/object-shapes.js';
import { InMemoryCluster } from '../../src/adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../../src/adapters/memory-metrics/memory-metrics.js';
import { applicationModule } from '../../src/app/modules/application.module.js';
import { memfsFilesModule } from '../../src/app/modules/files.module.js';
import { memoryClusterModule } from '../../src/app/modules/memory-cluster.module.js';
import { givenProviderModule } from '../../src/app/modules/provider.module.js';
import { runtimeModule } from '../../src/app/modules/runtime.module.js';
import { BindingRegistry } from '../../src/application/binding-registry.js';
import { RotationReconciler, type ReconcilerSettings } from '../../src/application/rotation-reconciler.js';
import { podStatusName } from '../../src/domain/pod-status.js';
import type { TokenRequest } from '../../src/domain/service-account-tokens.js';
import type { PublishCommand } from '../../src/domain/volume-binding.js';
import type { LogFields, Logger } from '../../src/ports/logger.js';
import { NodeVolumes } from '../../src/ports/node-volumes.js';
import { VolumeMounter } from '../../src/ports/volume-mounter.js';
import { aPublishCommand, KUBELET_ROOT, targetPathFor } from './builders.js';
import { aClassResource, aPodResource, type ClassResourceOptions, type PodResourceOptions } from './cluster-builders.js';
import { ProviderDouble } from './provider-double.js';

export const NODE_NAME = 'node-1';
export const NAMESPACE = 'default';
export const CLASS_NAME = 'app-secrets';

/** Rotation on, every 10s, no jitter: due times are exact. */
export const TEST_ROTATION: ReconcilerSettings = {
  enabled: true,
  intervalMs: 10_000,
  minClassIntervalMs: 2_000,
  jitterFraction: 0,
  backoffBaseMs: 1_000,
  workers: 2,
};

export interface HarnessOptions {
  readonly rotation?: Partial<ReconcilerSettings>;
  /** Start the rotation loop as the node agent does (default true). */
  readonly startRotationLoop?: boolean;
  /** The CSIDriver's tokenRequests (none by default). */
  readonly tokenRequests?: readonly TokenRequest[];
  /** The manual clock (default: a plain one). */
  readonly clock?: ManualClock;
  /** Wraps the node's volume mounter (a test that makes a mount step fail). */
  readonly mounter?: (inner: VolumeMounter) => VolumeMounter;
}

/** A pod that exists in the cluster, and where its volume is published. */
export interface TestPod {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
  readonly target: string;
}

export interface MountedFile {
  readonly path: string;
  readonly mode: number;
  readonly text: string;
  readonly bytes: Uint8Array;
}

/** Everything a reader can see in a target, to compare before and after byte for byte. */
export interface MountSnapshot {
  readonly dataDir: string | undefined;
  readonly files: readonly MountedFile[];
}

/** Log lines kept in memory, one per call, fields rendered as JSON (nothing redacted here). */
export class CollectingLogger implements Logger {
  readonly lines: string[] = [];
  debug(message: string, fields?: LogFields): void {
    this.add('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.add('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.add('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.add('error', message, fields);
  }
  private add(level: string, message: string, fields: LogFields = {}): void {
    this.lines.push(`${level} ${message} ${JSON.stringify(fields)}`);
  }
}

/**
 * The driver core built as the node agent builds it (runtime, in-memory cluster, memfs files, a given
 * provider, application modules in one inversify container), on a manual clock. The provider is the
 * in-process fake behind a ProviderDouble.
 */
export class DriverHarness {
  readonly clock: ManualClock;
  readonly cluster: InMemoryCluster;
  readonly fake = new InProcessSecretProvider();
  readonly provider = new ProviderDouble(this.fake);
  readonly volume = new Volume();
  readonly metrics = new MemoryMetrics();
  readonly logger = new CollectingLogger();
  readonly container = new Container();
  readonly volumes: NodeVolumes;
  readonly reconciler: RotationReconciler;
  readonly registry: BindingRegistry;
  readonly rotation: ReconcilerSettings;
  private readonly publishedSecrets = new Set<string>();
  private readonly loopRunning: boolean;
  private uids = 0;

  constructor(options: HarnessOptions = {}) {
    this.clock = options.clock ?? new ManualClock();
    this.rotation = { ...TEST_ROTATION, ...options.rotation };
    this.cluster = new InMemoryCluster({ clock: this.clock, newUid: () => `uid-${++this.uids}` });
    this.container.load(
      runtimeModule({ clock: this.clock, logger: this.logger, metrics: this.metrics }),
      memoryClusterModule(this.cluster, options.tokenRequests),
      memfsFilesModule(this.volume),
      givenProviderModule(this.provider),
      applicationModule({ nodeName: NODE_NAME, kubeletRoot: KUBELET_ROOT, rotation: this.rotation }),
    );
    if (options.mounter) {
      const wrapped = options.mounter(this.container.get<VolumeMounter>(VolumeMounter));
      this.container.rebind<VolumeMounter>(VolumeMounter).toConstantValue(wrapped);
    }
    this.volumes = this.container.get<NodeVolumes>(NodeVolumes);
    this.reconciler = this.container.get(RotationReconciler);
    this.registry = this.container.get(BindingRegistry);
    this.loopRunning = (options.startRotationLoop ?? true) && this.rotation.enabled;
    if (options.startRotationLoop ?? true) this.reconciler.start();
  }

  get store(): FakeSecretStore {
    return this.fake.store;
  }

  async stop(): Promise<void> {
    await this.reconciler.stop();
    this.container.unbindAll();
  }

  // --- arranging the cluster ---

  addClass(options: ClassResourceOptions = {}): SecretProviderClassResource {
    return this.cluster.create(aClassResource(options));
  }

  /** Changes a class as `kubectl edit` would and lets its watchers hear about it. */
  async editClass(name: string, edit: (spc: SecretProviderClassResource) => void): Promise<void> {
    const spc = this.cluster.get('SecretProviderClass', NAMESPACE, name);
    if (spc === undefined) throw new Error(`no class ${name}`);
    edit(spc);
    this.cluster.update(spc);
    await this.cluster.whenIdle();
  }

  addPod(options: PodResourceOptions = {}): TestPod {
    const pod = this.cluster.create(aPodResource(options));
    const uid = pod.metadata.uid!;
    return { namespace: pod.metadata.namespace!, name: pod.metadata.name, uid, target: targetPathFor(uid) };
  }

  // --- kubelet's calls ---

  commandFor(pod: TestPod, className = CLASS_NAME, overrides: Partial<PublishCommand> = {}): PublishCommand {
    return aPublishCommand({ podUid: pod.uid, podName: pod.name, className, ...overrides });
  }

  async publish(pod: TestPod, className = CLASS_NAME, overrides: Partial<PublishCommand> = {}): Promise<void> {
    const command = this.commandFor(pod, className, overrides);
    for (const value of Object.values(command.secrets)) this.publishedSecrets.add(value);
    await this.volumes.publish(command);
    await this.cluster.whenIdle();
  }

  async unpublish(target: string): Promise<void> {
    await this.volumes.unpublish({ volumeId: 'csi-volume', targetPath: target });
    await this.cluster.whenIdle();
  }

  // --- time ---

  /**
   * Moves the clock; a rotation pass the timer starts runs to its end (runDueChecks returns the running
   * pass, or runs the one the timer would start at this instant). Without a running loop, only time moves.
   */
  async advance(ms: number): Promise<void> {
    this.clock.advance(ms);
    if (this.loopRunning) await this.reconciler.runDueChecks();
    await this.cluster.whenIdle();
  }

  // --- what the pod and the user see ---

  /** The files a container reads through the user-visible names, sorted by path. */
  async mountedFiles(target: string): Promise<MountedFile[]> {
    if (!this.exists(target)) return [];
    const names = this.entries(target).filter((name) => !name.startsWith('..'));
    const files = names.flatMap((name) => this.filesUnder(`${target}/${name}`, name));
    return files.sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  /** path -> text of the mounted files. */
  async mountedText(target: string): Promise<Record<string, string>> {
    return Object.fromEntries((await this.mountedFiles(target)).map((file) => [file.path, file.text]));
  }

  async snapshot(target: string): Promise<MountSnapshot> {
    return { dataDir: this.dataDir(target), files: await this.mountedFiles(target) };
  }

  /** The hidden version directory `..data` names, or undefined. */
  dataDir(target: string): string | undefined {
    try {
      return String(this.volume.readlinkSync(`${target}/..data`));
    } catch {
      return undefined;
    }
  }

  exists(path: string): boolean {
    return this.volume.existsSync(path);
  }

  /** Names directly in a directory ([] when it does not exist). */
  entries(dir: string): string[] {
    if (!this.exists(dir)) return [];
    return (this.volume.readdirSync(dir) as unknown[]).map(String).sort();
  }

  // --- what the cluster holds ---

  podStatus(pod: TestPod, className = CLASS_NAME): PodStatusResource | undefined {
    return this.cluster.get('SecretProviderClassPodStatus', pod.namespace, podStatusName(pod.name, pod.namespace, className));
  }

  secret(name: string): SecretResource | undefined {
    return this.cluster.get('Secret', NAMESPACE, name);
  }

  /** The decoded data of a synced Secret (key -> text). */
  secretData(name: string): Record<string, string> | undefined {
    const secret = this.secret(name);
    if (secret === undefined) return undefined;
    return Object.fromEntries(Object.entries(secret.data ?? {}).map(([key, value]) => [key, Buffer.from(value, 'base64').toString()]));
  }

  events(reason?: string): EventResource[] {
    return this.cluster.list('Event').filter((event) => reason === undefined || event.reason === reason);
  }

  /** Log lines and event messages that contain a secret value the provider or kubelet handed over. */
  leakedSecrets(): string[] {
    const secrets = [...this.provider.secretValues, ...this.publishedSecrets].filter((value) => value.length >= 4);
    const texts = [...this.logger.lines, ...this.events().map((event) => event.message ?? '')];
    return texts.filter((line) => secrets.some((secret) => line.includes(secret)));
  }

  private filesUnder(path: string, relative: string): MountedFile[] {
    const stats = this.volume.statSync(path);
    if (stats.isDirectory()) {
      return this.entries(path).flatMap((name) => this.filesUnder(`${path}/${name}`, `${relative}/${name}`));
    }
    const bytes = new Uint8Array(this.volume.readFileSync(path) as Buffer);
    return [{ path: relative, mode: Number(stats.mode) & 0o777, text: new TextDecoder().decode(bytes), bytes }];
  }
}

/** The secretObject most tests sync: Secret `app-synced`, key `password` from the mounted `db-password`. */
export function aSyncedPassword(): { secretName: string; type: string; data: { objectName: string; key: string }[] } {
  return { secretName: 'app-synced', type: 'Opaque', data: [{ objectName: 'db-password', key: 'password' }] };
}

/** Objects of the fake provider as a class parameter: `- name: a` lines (with optional path and mode). */
export function objectsParameter(...objects: Array<string | { name: string; path?: string; mode?: number }>): string {
  return objects
    .map((object) => (typeof object === 'string' ? { name: object } : object))
    .map(({ name, path, mode }) => [`- name: ${name}`, path ? `  path: ${path}` : '', mode !== undefined ? `  mode: ${mode}` : ''].filter(Boolean).join('\n'))
    .join('\n');
}
