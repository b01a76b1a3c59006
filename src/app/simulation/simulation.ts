import { createWriteStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { SystemClock } from '../../adapters/clock/system-clock.js';
import { ConsoleLogger } from '../../adapters/console-log/console-logger.js';
import { CsiNodeClient } from '../../adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, type FakePod } from '../../adapters/fake-kubelet/fake-kubelet.js';
import { startFakeProvider, type FakeProviderControls } from '../../adapters/fake-provider/fake-provider-server.js';
import type { SecretResource } from '../../adapters/kube-objects/object-shapes.js';
import { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../../adapters/memory-metrics/memory-metrics.js';
import type { RotationOutcome } from '../../application/rotate-binding.js';
import { formatDuration } from '../../domain/duration.js';
import { buildInfo } from '../build-info.js';
import { DRIVER_FLAGS, driverConfig } from '../config.js';
import { parseFlags } from '../flags.js';
import { chooseMountMode, nodeFilesModule } from '../modules/files.module.js';
import { memoryClusterModule } from '../modules/memory-cluster.module.js';
import { grpcProviderModule } from '../modules/provider.module.js';
import { startNodeAgent, type NodeAgent } from '../node-agent.js';
import { Narrator, percentile, type SimulationSummary } from './narrator.js';
import { ADDED_OBJECT, CLASS_OBJECTS, classResource, NAMESPACE, podResource, PROVIDER, SHARED_CLASS, simulatedPods, SYNCED_KEYS, SYNCED_SECRET } from './world.js';

export interface SimulationOptions {
  readonly pods: number;
  readonly intervalMs: number;
  readonly rotateEveryMs: number;
  /** 0 = until stopRequested. */
  readonly durationMs: number;
  readonly workDir: string;
  readonly kubeletRoot: string;
  readonly verbosity: number;
}

export interface SimulationOutput {
  readonly write: (line: string) => void;
  readonly stopRequested: Promise<void>;
}

const NODE_NAME = 'sim-node';

/**
 * The local scenario: fake kubelet -> CSI socket -> driver -> provider socket -> fake provider, with
 * an in-memory cluster. Starts the pods, changes secrets in the store every `rotateEveryMs`, changes
 * the shared class halfway, narrates each rotation, then deletes the pods and sums up.
 */
export async function runSimulation(options: SimulationOptions, output: SimulationOutput): Promise<SimulationSummary> {
  const clock = new SystemClock();
  const narrator = new Narrator(output.write, () => clock.now(), clock.now());
  const logPath = join(options.workDir, 'driver.log');
  const logStream = createWriteStream(logPath);
  const logger = new ConsoleLogger({ json: false, verbosity: options.verbosity, write: (line) => logStream.write(`${line}\n`), now: () => new Date() });
  const cluster = new InMemoryCluster({ clock });
  for (const [name, objects] of Object.entries(CLASS_OBJECTS)) cluster.create(classResource(name, objects));
  const pods = simulatedPods(options.pods).map((pod) => ({ ...pod, uid: cluster.create(podResource(pod, NODE_NAME)).metadata.uid! }));
  const provider = await startFakeProvider({ socketPath: join(options.workDir, 'providers', `${PROVIDER}.sock`) });
  const config = driverConfig(
    parseFlags(DRIVER_FLAGS, [
      `--endpoint=unix://${join(options.workDir, 'csi.sock')}`,
      `--nodeid=${NODE_NAME}`,
      `--provider-volume=${join(options.workDir, 'providers')}`,
      '--additional-provider-volume-paths=',
      '--enable-secret-rotation',
      `--rotation-poll-interval=${options.intervalMs}ms`,
      `--kubelet-root=${options.kubeletRoot}`,
      '--cluster=memory',
    ]),
  );
  const mountMode = await chooseMountMode(true, logger);
  const agent = await startNodeAgent(
    config,
    { clock, logger, metrics: new MemoryMetrics() },
    { cluster: memoryClusterModule(cluster), files: nodeFilesModule(mountMode, config.kubeletRoot), provider: grpcProviderModule(config) },
    buildInfo().version,
  );
  const csiClient = new CsiNodeClient(agent.csi.address);
  const kubelet = new FakeKubelet(csiClient, options.kubeletRoot);
  narrator.note(
    `Simulation: ${pods.length} pods, rotation poll interval ${formatDuration(options.intervalMs)}, a secret changes every ` +
      `${formatDuration(options.rotateEveryMs)}, ${options.durationMs > 0 ? `for ${formatDuration(options.durationMs)}` : 'until Ctrl-C'}.`,
  );
  narrator.note(`Mounts under ${options.kubeletRoot} (${mountMode === 'tmpfs' ? 'tmpfs' : 'plain directories: this process cannot mount tmpfs'}); driver log ${logPath}\n`);
  const stopWatching = watchRotations(agent, cluster, provider, narrator);
  try {
    for (const pod of pods) await startPod(kubelet, pod, provider, narrator);
    await changeSecretsUntilDone(options, cluster, provider, narrator, output.stopRequested);
    narrator.note('');
    for (const pod of pods) {
      await kubelet.deletePod(pod.uid);
      cluster.delete('Pod', pod.namespace, pod.name);
      narrator.line('kubelet', `${pod.namespace}/${pod.name}`, 'pod deleted: volume unpublished');
    }
    await cluster.whenIdle();
    const left = cluster.list('Secret', { namespace: NAMESPACE }).length + cluster.list('SecretProviderClassPodStatus').length;
    narrator.line('cluster', NAMESPACE, `${left === 0 ? 'synced Secret and pod statuses garbage-collected with the pods' : `${left} objects left`}`);
  } finally {
    stopWatching();
    csiClient.close();
    await agent.stop();
    await provider.stop();
    await new Promise((resolve) => logStream.end(resolve));
  }
  const summary = narrator.summary();
  printSummary(narrator, summary, provider.mountCount);
  return summary;
}

async function startPod(kubelet: FakeKubelet, pod: FakePod, provider: FakeProviderControls, narrator: Narrator): Promise<void> {
  await kubelet.startPod(pod);
  const className = pod.volumes[0]!.volumeAttributes['secretProviderClass']!;
  const versions = CLASS_OBJECTS[className]!.map((name) => `${name} ${provider.store.read(name).version}`);
  narrator.line('kubelet', `${pod.namespace}/${pod.name}`, `pod started: ${className} mounted (${versions.join(', ')})`);
}

/** Rotates the store's objects round-robin and changes the shared class once, halfway. */
async function changeSecretsUntilDone(
  options: SimulationOptions,
  cluster: InMemoryCluster,
  provider: FakeProviderControls,
  narrator: Narrator,
  stopRequested: Promise<void>,
): Promise<void> {
  const objects = Object.values(CLASS_OBJECTS).flat();
  let next = 0;
  const rotate = setInterval(() => {
    const name = objects[next++ % objects.length]!;
    const before = provider.store.read(name).version;
    narrator.storeChanged(name, before, provider.rotate(name).version);
  }, options.rotateEveryMs);
  const changeClass = setTimeout(() => {
    const spc = cluster.get('SecretProviderClass', NAMESPACE, SHARED_CLASS)!;
    spc.spec!.parameters!['objects'] = [...CLASS_OBJECTS[SHARED_CLASS]!, ADDED_OBJECT].map((o) => `- name: ${o}`).join('\n');
    cluster.update(spc);
    narrator.line('class', `${NAMESPACE}/${SHARED_CLASS}`, `SecretProviderClass changed: + object ${ADDED_OBJECT}`);
  }, options.durationMs > 0 ? options.durationMs / 2 : options.rotateEveryMs * 3);
  const ended = options.durationMs > 0 ? new Promise<void>((resolve) => setTimeout(resolve, options.durationMs)) : new Promise<void>(() => {});
  await Promise.race([ended, stopRequested]);
  clearInterval(rotate);
  clearTimeout(changeClass);
}

/** Narrates rotations of mounts (checking the files against the store) and of the synced Secret. */
function watchRotations(agent: NodeAgent, cluster: InMemoryCluster, provider: FakeProviderControls, narrator: Narrator): () => void {
  const stopOutcomes = agent.reconciler.onOutcome((outcome) => {
    void filesMatchStore(outcome, provider).then((verified) => narrator.rotationOutcome(outcome, verified));
  });
  const lastData = new Map<string, Record<string, string>>();
  const stopSecrets = cluster.watch('Secret', (event) => {
    const secret = event.object as SecretResource;
    const name = `${secret.metadata.namespace}/${secret.metadata.name}`;
    const data = secret.data ?? {};
    const before = lastData.get(name);
    lastData.set(name, data);
    if (event.type !== 'MODIFIED' || before === undefined || secret.metadata.name !== SYNCED_SECRET) return;
    const keys = Object.keys(data).filter((key) => before[key] !== data[key]);
    if (keys.length === 0) return;
    narrator.secretChanged(name, keys, keys.map((key) => ({ id: SYNCED_KEYS[key]!, version: provider.store.read(SYNCED_KEYS[key]!).version })));
  });
  return () => {
    stopOutcomes();
    stopSecrets();
  };
}

async function filesMatchStore(outcome: RotationOutcome, provider: FakeProviderControls): Promise<boolean> {
  if (outcome.kind !== 'rotated') return true;
  const target = outcome.binding.request.target.path;
  for (const { id } of outcome.binding.objectVersions) {
    const mounted = await readFile(join(target, id)).catch(() => undefined);
    if (mounted === undefined || !Buffer.from(provider.store.read(id).contents).equals(mounted)) return false;
  }
  return true;
}

function printSummary(narrator: Narrator, summary: SimulationSummary, providerCalls: number): void {
  const latency =
    summary.latenciesMs.length > 0
      ? `change -> files p50 ${(percentile(summary.latenciesMs, 50) / 1000).toFixed(2)}s, max ${(Math.max(...summary.latenciesMs) / 1000).toFixed(2)}s`
      : 'no latency measured';
  narrator.note(
    `\nSummary: ${summary.storeChanges} store changes; ${summary.mountRotations} mount rotations (${latency}); ` +
      `${summary.secretUpdates} synced Secret updates; ${providerCalls} provider calls; ${summary.failures} failures.`,
  );
}
