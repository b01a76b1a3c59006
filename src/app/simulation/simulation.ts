import { createWriteStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { SystemClock } from '../../adapters/clock/system-clock.js';
import { BindingRegistry } from '../../application/binding-registry.js';
import { ConsoleLogger } from '../../adapters/console-log/console-logger.js';
import { CsiNodeClient } from '../../adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, type FakePod } from '../../adapters/fake-kubelet/fake-kubelet.js';
import { INJECTED_FAILURE_MESSAGE, startFakeProvider } from '../../adapters/fake-provider/fake-provider-server.js';
import { InMemoryCluster } from '../../adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../../adapters/memory-metrics/memory-metrics.js';
import { formatDuration } from '../../domain/duration.js';
import type { Clock } from '../../ports/clock.js';
import { buildInfo } from '../build-info.js';
import { DRIVER_FLAGS, driverConfig } from '../config.js';
import { parseFlags } from '../flags.js';
import { chooseMountMode, nodeFilesModule } from '../modules/files.module.js';
import { memoryClusterModule } from '../modules/memory-cluster.module.js';
import { grpcProviderModule } from '../modules/provider.module.js';
import { startNodeAgent } from '../node-agent.js';
import { demoDurations, scheduledCheckWithinMs, type CheckTiming } from './check-timing.js';
import { Narrator, percentile, type SimulationSummary } from './narrator.js';
import { demonstrateOnDemandRotation, demonstrateProviderOutage, type DemoContext } from './rotation-demos.js';
import { RotationWatch } from './rotation-watch.js';
import { StoreChanges } from './store-changes.js';
import { RestartWatch } from './restart-watch.js';
import {
  ADDED_OBJECT,
  CLASS_OBJECTS,
  classResource,
  controllerOf,
  DEPLOYMENT,
  deploymentResource,
  isWebPod,
  NAMESPACE,
  podResource,
  PROVIDER,
  replicaSetResource,
  SHARED_CLASS,
  simulatedPods,
} from './world.js';

export interface SimulationOptions {
  readonly pods: number;
  readonly intervalMs: number;
  readonly rotateEveryMs: number;
  /** 0 = until stopRequested; `auto` = the default run, lengthened when the steps need more time (many pods). */
  readonly durationMs: number | 'auto';
  readonly workDir: string;
  readonly kubeletRoot: string;
  readonly verbosity: number;
}

type ResolvedOptions = SimulationOptions & { readonly durationMs: number };

/** The default run: long enough to show a few rotations, lengthened to show every step when many pods share the workers. */
const DEFAULT_DURATION_MS = 20_000;

export interface SimulationOutput {
  readonly write: (line: string) => void;
  readonly stopRequested: Promise<void>;
}

const NODE_NAME = 'sim-node';
/** The driver's log, in the work directory. */
export const DRIVER_LOG = 'driver.log';

/** When the scripted events come: shares of the run, or multiples of `rotateEveryMs` when it runs until Ctrl-C. */
interface ScriptTimes {
  readonly classChangeMs: number;
  readonly onDemandMs: number;
  readonly outageMs: number;
}

/**
 * The local scenario: fake kubelet -> CSI socket -> driver -> provider socket -> fake provider, with
 * an in-memory cluster. Starts the pods, changes secrets in the store every `rotateEveryMs`, changes
 * the shared class halfway, asks one pod for a rotation on demand, takes the provider down for a
 * moment, narrates each rotation, then deletes the pods and sums up.
 */
export async function runSimulation(requested: SimulationOptions, output: SimulationOutput): Promise<SimulationSummary> {
  const clock = new SystemClock();
  const narrator = new Narrator(output.write, () => clock.now(), clock.now(), (error) => error.message.includes(INJECTED_FAILURE_MESSAGE));
  const logPath = join(requested.workDir, DRIVER_LOG);
  const logStream = createWriteStream(logPath);
  const logger = new ConsoleLogger({ json: false, verbosity: requested.verbosity, write: (line) => logStream.write(`${line}\n`), now: () => new Date() });
  const cluster = new InMemoryCluster({ clock });
  for (const [name, objects] of Object.entries(CLASS_OBJECTS)) cluster.create(classResource(name, objects));
  const deployment = cluster.create(deploymentResource());
  const replicaSet = controllerOf(cluster.create(replicaSetResource(controllerOf(deployment))));
  const pods = simulatedPods(requested.pods).map((pod) => ({
    ...pod,
    uid: cluster.create(podResource(pod, NODE_NAME, isWebPod(pod) ? replicaSet : undefined)).metadata.uid!,
  }));
  const provider = await startFakeProvider({ socketPath: join(requested.workDir, 'providers', `${PROVIDER}.sock`) });
  const config = driverConfig(
    parseFlags(DRIVER_FLAGS, [
      `--endpoint=unix://${join(requested.workDir, 'csi.sock')}`,
      `--nodeid=${NODE_NAME}`,
      `--provider-volume=${join(requested.workDir, 'providers')}`,
      '--additional-provider-volume-paths=',
      '--enable-secret-rotation',
      `--rotation-poll-interval=${requested.intervalMs}ms`,
      `--kubelet-root=${requested.kubeletRoot}`,
      '--cluster=memory',
    ]),
  );
  const timing: CheckTiming = { ...config.rotation, mounts: pods.length };
  const options: ResolvedOptions = { ...requested, durationMs: resolvedDuration(requested, timing) };
  const mountMode = await chooseMountMode(true, logger);
  const agent = await startNodeAgent(
    config,
    { clock, logger, metrics: new MemoryMetrics() },
    { cluster: memoryClusterModule(cluster), files: nodeFilesModule(mountMode, config.kubeletRoot), provider: grpcProviderModule(config) },
    buildInfo().version,
  );
  const csiClient = new CsiNodeClient(agent.csi.address);
  const kubelet = new FakeKubelet(csiClient, options.kubeletRoot, { nodeName: NODE_NAME });
  narrator.note(
    `Simulation: ${pods.length} pods, rotation poll interval ${formatDuration(options.intervalMs)}, a secret changes every ` +
      `${formatDuration(options.rotateEveryMs)}, ${options.durationMs > 0 ? `for ${formatDuration(options.durationMs)}` : 'until Ctrl-C'}.`,
  );
  narrator.note(`Mounts under ${options.kubeletRoot} (${mountMode === 'tmpfs' ? 'tmpfs' : 'plain directories: this process cannot mount tmpfs'}); driver log ${logPath}\n`);
  const store = new StoreChanges(provider, narrator);
  const registry = agent.container.get(BindingRegistry);
  const watch = new RotationWatch(agent, cluster, store, narrator, clock, (target) => registry.get(target)?.schedule.nextDueAt);
  const targetOf = (pod: FakePod): string => kubelet.targetPath(pod, pod.volumes[0]!.name);
  const restarts = new RestartWatch(cluster, narrator, { clock, logger }, config.rotation);
  const demos = {
    cluster,
    provider,
    store,
    watch,
    narrator,
    clock,
    timing,
    targetOf,
    dueAt: (pod: FakePod) => registry.get(targetOf(pod))?.schedule.nextDueAt,
  };
  try {
    for (const pod of pods) await startPod(kubelet, pod, store, narrator, targetOf(pod));
    await changeSecretsUntilDone(options, pods, demos, output.stopRequested);
    narrator.note('');
    for (const pod of pods) {
      await kubelet.deletePod(pod.uid);
      cluster.delete('Pod', pod.namespace, pod.name);
      narrator.line('kubelet', `${pod.namespace}/${pod.name}`, 'pod deleted: volume unpublished');
    }
    cluster.delete('Deployment', NAMESPACE, DEPLOYMENT);
    await cluster.whenIdle();
    const left = cluster.list('Secret', { namespace: NAMESPACE }).length + cluster.list('SecretProviderClassPodStatus').length;
    narrator.line('cluster', NAMESPACE, `${left === 0 ? 'synced Secret and pod statuses garbage-collected with their owners' : `${left} objects left`}`);
  } finally {
    await restarts.stop();
    watch.stop();
    csiClient.close();
    await agent.stop();
    await provider.stop();
    await new Promise((resolve) => logStream.end(resolve));
  }
  expectEndToEndRotation(narrator, options, demos.timing, watch.observedLatenessMs);
  const summary = narrator.summary();
  printSummary(narrator, summary, provider.mountCount);
  return summary;
}

async function startPod(kubelet: FakeKubelet, pod: FakePod, store: StoreChanges, narrator: Narrator, target: string): Promise<void> {
  await kubelet.startPod(pod);
  const className = pod.volumes[0]!.volumeAttributes['secretProviderClass']!;
  const versions = CLASS_OBJECTS[className]!.map((name) => `${name} ${store.versionOf(name)}`);
  const subject = `${pod.namespace}/${pod.name}`;
  narrator.line('kubelet', subject, `pod started: ${className} mounted (${versions.join(', ')})`);
  if (pod.fsGroup !== undefined) narrator.line('files', subject, `fsGroup ${pod.fsGroup}: ${await ownersAndModes(target)}`);
}

/** `name owner:group mode` of each visible file of a mount, e.g. `queue-token root:2000 0640`. */
async function ownersAndModes(target: string): Promise<string> {
  const names = (await readdir(target)).filter((name) => !name.startsWith('..')).sort();
  const described = await Promise.all(
    names.map(async (name) => {
      const { uid, gid, mode } = await stat(join(target, name));
      return `${name} ${uid === 0 ? 'root' : uid}:${gid === 0 ? 'root' : gid} ${(mode & 0o777).toString(8).padStart(4, '0')}`;
    }),
  );
  return described.join(', ');
}

/**
 * Rotates the store's objects round-robin, changes the shared class once, then shows a rotation on
 * demand and a provider outage. A demonstration under way when the time is up is let finish (each wait
 * in it is bounded); Ctrl-C cuts it short.
 */
async function changeSecretsUntilDone(
  options: ResolvedOptions,
  pods: readonly FakePod[],
  demos: Omit<DemoContext, 'endsAt' | 'signal'>,
  stopRequested: Promise<void>,
): Promise<void> {
  const { cluster, store, narrator, clock } = demos;
  const startedAt = clock.now();
  const times = scriptTimes(options, demos.timing);
  const objects = Object.values(CLASS_OBJECTS).flat();
  let next = 0;
  const rotate = setInterval(() => store.change(objects[next++ % objects.length]!), options.rotateEveryMs);
  const changeClass = setTimeout(() => {
    const spc = cluster.get('SecretProviderClass', NAMESPACE, SHARED_CLASS)!;
    spc.spec!.parameters!['objects'] = [...CLASS_OBJECTS[SHARED_CLASS]!, ADDED_OBJECT].map((o) => `- name: ${o}`).join('\n');
    cluster.update(spc);
    narrator.line('class', `${NAMESPACE}/${SHARED_CLASS}`, `SecretProviderClass changed: + object ${ADDED_OBJECT}`);
  }, times.classChangeMs);
  const stopping = new AbortController();
  const ctx: DemoContext = { ...demos, endsAt: options.durationMs > 0 ? startedAt + options.durationMs : Infinity, signal: stopping.signal };
  const shown = (async () => {
    if (await sleepUntil(clock, startedAt + times.onDemandMs, stopping.signal)) await demonstrateOnDemandRotation(ctx, pods[pods.length - 1]!);
    if (await sleepUntil(clock, startedAt + times.outageMs, stopping.signal)) await demonstrateProviderOutage(ctx, pods[0]!, pods);
  })();
  const ended = options.durationMs > 0 ? sleep(options.durationMs, undefined, { signal: stopping.signal }).catch(() => undefined) : new Promise<void>(() => {});
  try {
    await Promise.race([Promise.all([ended, shown]), stopRequested]);
  } finally {
    stopping.abort();
    clearInterval(rotate);
    clearTimeout(changeClass);
  }
  await shown;
}

function scriptTimes(options: ResolvedOptions, timing: CheckTiming): ScriptTimes {
  if (options.durationMs === 0) {
    return { classChangeMs: options.rotateEveryMs * 3, onDemandMs: options.rotateEveryMs * 4.5, outageMs: options.rotateEveryMs * 5.5 };
  }
  // The demonstrations come last, as late as lets both finish in time (they are skipped when they cannot).
  const demos = demoDurations(timing);
  const onDemandMs = Math.max(options.durationMs * 0.55, options.durationMs - demos.onDemandMs - demos.outageMs);
  return { classChangeMs: options.durationMs * 0.5, onDemandMs, outageMs: onDemandMs };
}

/**
 * How long a run must last to show every step: a store change reaching its mounts, then the on-demand
 * rotation and the provider outage, each given the longest it can take (more pods take longer to check).
 */
function resolvedDuration(options: SimulationOptions, timing: CheckTiming): number {
  if (options.durationMs !== 'auto') return options.durationMs;
  return Math.max(DEFAULT_DURATION_MS, Math.ceil(durationForEveryStep(options, timing) / 1000) * 1000);
}

function durationForEveryStep(options: Pick<SimulationOptions, 'rotateEveryMs'>, timing: CheckTiming): number {
  const demos = demoDurations(timing);
  return options.rotateEveryMs + scheduledCheckWithinMs(timing) + demos.onDemandMs + demos.outageMs;
}

/** Sleeps until `at` (at once when it has passed); false when `signal` aborted first. */
async function sleepUntil(clock: Clock, at: number, signal: AbortSignal): Promise<boolean> {
  return sleep(Math.max(0, at - clock.now()), true, { signal }).catch(() => false);
}

/**
 * A run long enough for a store change to reach its mounts (as late as checks came in this run) must have
 * shown a rotation of the files and of the synced Secret; a shorter one says so instead.
 */
function expectEndToEndRotation(narrator: Narrator, options: ResolvedOptions, timing: CheckTiming, latenessMs: number): void {
  const { mountRotations, secretUpdates } = narrator.summary();
  if (options.durationMs === 0 || (mountRotations > 0 && secretUpdates > 0)) return;
  const needsMs = options.rotateEveryMs + scheduledCheckWithinMs(timing) + 2 * latenessMs;
  const needs = `a store change after ${formatDuration(options.rotateEveryMs)}, then its check within ${formatDuration(Math.ceil(needsMs - options.rotateEveryMs))}`;
  if (options.durationMs < needsMs) {
    narrator.line('skipped', 'rotation end to end', `needs ${needs}; the run lasted ${formatDuration(options.durationMs)}: run with a longer --duration to see it`);
  } else {
    narrator.problem('rotation end to end', `no rotation reached both the files and the Secret, though the run allowed ${needs}`);
  }
}

function printSummary(narrator: Narrator, summary: SimulationSummary, providerCalls: number): void {
  const latency =
    summary.latenciesMs.length > 0
      ? `change -> files p50 ${(percentile(summary.latenciesMs, 50) / 1000).toFixed(2)}s, max ${(Math.max(...summary.latenciesMs) / 1000).toFixed(2)}s`
      : 'no latency measured';
  const onDemand = summary.onDemandLatencyMs === undefined ? '' : `; on-demand rotation in ${summary.onDemandLatencyMs} ms`;
  const failedChecks = `${summary.outageFailures} failed check${summary.outageFailures === 1 ? '' : 's'}`;
  const outage = summary.outageFailures > 0 ? `; provider outage: ${failedChecks}, files kept` : '';
  const restarts = `; ${summary.workloadRestarts} Deployment restart${summary.workloadRestarts === 1 ? '' : 's'} on rotation`;
  narrator.note(
    `\nSummary: ${summary.storeChanges} store changes; ${summary.mountRotations} mount rotations (${latency})${onDemand}; ` +
      `${summary.secretUpdates} synced Secret updates${restarts}${outage}; ${providerCalls} provider calls; ${summary.failures} failures.`,
  );
}
