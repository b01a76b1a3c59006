// Side-by-side bench: this driver and the upstream Go driver (v1.6.0 and v1.4.8) on one machine, against the
// same real control plane (test/support/control-plane.ts), the same fake provider process and the same
// kubelet-shaped client (CSI calls over each driver's socket for pods that exist in the API server, bound to
// the node). Each driver runs in turn through the same phases, interleaved over several rounds:
//   1. first publishes: `--low-rate` at one call every `--low-rate-gap`, `--back-to-back` at C=1, the rest
//      at C=`--concurrency`;
//   2. idle with rotation (`--idle`), no kubelet calls: rotation checks only;
//   3. a republish round (kubelet's requiresRepublish tick) of every mount at C=`--concurrency`;
//   4. a store change: every object gets a new version, the kubelet keeps republishing each pod every
//      `--republish-every` (spread, as kubelet's pod syncs are), until every mounted file holds the new version;
//   5. unpublish: `--low-rate` at one call every `--low-rate-gap`, the rest at C=`--concurrency`.
// Figures come from /proc (VmRSS and utime+stime+cutime+cstime of each driver's process tree), the provider's
// call counter and kube-apiserver's apiserver_request_total (the drivers' resources only). The table shows
// medians over the rounds and the ratios ours / upstream. Needs root (tmpfs mounts), the control plane
// (test/control-plane/build-binaries.sh) and the upstream drivers in the test-peers cache.
//   node dist/bench/vs-upstream.js                  # 1200 mounts, 30 s rotation interval, 3 rounds
//   node dist/bench/vs-upstream.js --tiny           # a smoke run of every phase (what the test suite runs)
//   node dist/bench/vs-upstream.js --drivers ours   # only some drivers
//   node dist/bench/vs-upstream.js --drivers ours --ours-main dist/src/app/main.js   # this driver unbundled (or another build)
import 'reflect-metadata';
import { CoreV1Api, CustomObjectsApi, StorageV1Api, type V1Pod } from '@kubernetes/client-node';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, openSync, closeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CsiNodeClient } from '../src/adapters/fake-kubelet/csi-node-client.js';
import { FakeKubelet, type FakePod } from '../src/adapters/fake-kubelet/fake-kubelet.js';
import type { PublishCommand } from '../src/domain/volume-binding.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { bundledMain, CliProcess, mountsUnder, sleep } from '../test/e2e/processes.js';
import { startControlPlane, type ControlPlane } from '../test/support/control-plane.js';
import { CSI } from '../test/support/kube-admin.js';
import { UPSTREAM_BUILD_SCRIPT, upstreamDriverPeer } from '../test/support/upstream-driver.js';
import { apiServerRequests, countsSince, type RequestCounts } from './api-server-requests.js';
import { daemonSetNodeOptions, daemonSetTuning, peakRssMiB, percentile } from './bench-support.js';
import { treeCpuSeconds, treeRssMiB } from './process-tree.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'mounts', kind: 'int', default: 1200, help: 'pods (one inline volume each) published on the node' },
  { name: 'low-rate', kind: 'int', default: 100, help: 'first publishes (and unpublishes) made one at a time, --low-rate-gap apart' },
  { name: 'low-rate-gap', kind: 'duration', default: 60, help: 'time between the starts of two low-rate calls' },
  { name: 'back-to-back', kind: 'int', default: 200, help: 'first publishes made one after the other (C=1)' },
  { name: 'concurrency', kind: 'int', default: 20, help: 'calls in flight for the remaining publishes, republishes and unpublishes' },
  { name: 'interval', kind: 'duration', default: 30_000, help: 'rotation poll interval given to the drivers' },
  { name: 'idle', kind: 'duration', default: 60_000, help: 'time with rotation on and no kubelet call' },
  { name: 'republish-every', kind: 'duration', default: 60_000, help: 'kubelet resync of each pod during the store change (requiresRepublish)' },
  { name: 'store-change-timeout', kind: 'duration', default: 180_000, help: 'give up waiting for every file to be new after this long' },
  {
    name: 'settle',
    kind: 'duration',
    default: 10_000,
    help: 'time after a driver serves its socket before "RSS before any mount" is read (V8 gives back the memory of its start 8 s after it, in its first memory-reducing GC)',
  },
  { name: 'rounds', kind: 'int', default: 3, help: 'rounds; each runs every driver once, in a rotated order' },
  { name: 'drivers', kind: 'list', default: ['ours', 'v1.6.0', 'v1.4.8'], help: 'drivers to run: ours, v1.6.0, v1.4.8' },
  { name: 'node-options', kind: 'string', default: '', help: "NODE_OPTIONS of this driver (default: deploy/daemonset.yaml's)" },
  { name: 'provider-latency', kind: 'duration', default: 0, help: 'fixed latency of the fake provider' },
  { name: 'ours-main', kind: 'string', default: '', help: 'the CLI this driver runs from (default: the bundle, dist/bundle/main.js; e.g. dist/src/app/main.js, or another build)' },
  { name: 'cpu-prof-dir', kind: 'string', default: '', help: 'write a V8 CPU profile of each run of this driver here (node --cpu-prof)' },
  { name: 'tiny', kind: 'bool', default: false, help: 'a smoke run: 12 mounts, 2 s interval, 1 round (overrides the sizes above)' },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
];

const NODE = 'bench-node';
const NAMESPACE = 'bench';
const CLASS = 'bench-secrets';
const OBJECTS = ['db-password', 'api-key'];
const DRIVER_NAME = 'secrets-store.csi.k8s.io';
const UPSTREAM_VERSIONS = ['v1.6.0', 'v1.4.8'];
const UNPUBLISH_ATTEMPTS = 10;
const UNPUBLISH_RETRY_MS = 200;

interface Settings {
  readonly mounts: number;
  readonly lowRate: number;
  readonly lowRateGapMs: number;
  readonly backToBack: number;
  readonly concurrency: number;
  readonly intervalMs: number;
  readonly idleMs: number;
  readonly republishEveryMs: number;
  readonly storeChangeTimeoutMs: number;
  readonly settleMs: number;
  readonly rounds: number;
  readonly drivers: readonly string[];
  readonly nodeOptions: string;
  readonly providerLatencyMs: number;
  readonly cpuProfDir: string;
  readonly oursMain: string;
}

/** One figure of one run; NaN when the run could not measure it. */
type Figures = Record<string, number>;

/** One pod's inline volume as the kubelet-shaped client publishes it. */
interface Target {
  readonly command: PublishCommand;
  readonly volumeId: string;
  readonly targetPath: string;
}

const values = parseFlags(FLAGS, process.argv.slice(2));
if (values['help']) {
  console.log(FLAGS.map((flag) => `  --${flag.name} (default ${JSON.stringify(flag.default)}): ${flag.help}`).join('\n'));
  process.exit(0);
}
const settings = settingsFrom(values);
const binaries = driverBinaries(settings.drivers);
const work = await mkdtemp(join(tmpdir(), 'sscsi-vs-upstream-'));
const plane = await startControlPlane();
let provider: CliProcess | undefined;
try {
  const kubeconfig = await writeJsonKubeconfig(plane, join(work, 'kubeconfig.json'));
  await arrangeCluster(plane, settings.mounts);
  const providers = join(work, 'providers');
  provider = CliProcess.start(['fake-provider', '--endpoint', `unix://${providers}/fake.sock`, '--control-port', '0', `--latency=${settings.providerLatencyMs}ms`]);
  const controlUrl = (await provider.waitForStderr(/control endpoint (http:\/\/127\.0\.0\.1:\d+)/, 30_000))[1]!;
  const runs = new Map<string, Figures[]>(settings.drivers.map((driver) => [driver, []]));
  for (let round = 0; round < settings.rounds; round++) {
    for (const driver of rotated(settings.drivers, round)) {
      process.stderr.write(`round ${round + 1}/${settings.rounds}: ${driver}\n`);
      const figures = await runDriver({ driver, round, kubeconfig, providers, controlUrl });
      process.stderr.write(`${JSON.stringify({ driver, round: round + 1, figures })}\n`);
      runs.get(driver)!.push(figures);
    }
  }
  console.log(renderTable(runs));
} finally {
  await provider?.dispose();
  await plane.stop();
  await rm(work, { recursive: true, force: true });
}

function settingsFrom(flags: Record<string, unknown>): Settings {
  const tiny = flags['tiny'] === true;
  const number = (name: string, tinyValue: number): number => (tiny ? tinyValue : (flags[name] as number));
  const drivers = flags['drivers'] as string[];
  for (const driver of drivers) if (driver !== 'ours' && !UPSTREAM_VERSIONS.includes(driver)) throw new Error(`unknown driver "${driver}" (ours, ${UPSTREAM_VERSIONS.join(', ')})`);
  const settings: Settings = {
    mounts: number('mounts', 12),
    lowRate: number('low-rate', 4),
    lowRateGapMs: number('low-rate-gap', 60),
    backToBack: number('back-to-back', 4),
    concurrency: number('concurrency', 4),
    intervalMs: number('interval', 2_000),
    idleMs: number('idle', 3_000),
    republishEveryMs: number('republish-every', 2_000),
    storeChangeTimeoutMs: number('store-change-timeout', 60_000),
    settleMs: number('settle', 1_000),
    rounds: number('rounds', 1),
    drivers,
    nodeOptions: (flags['node-options'] as string) || daemonSetNodeOptions(),
    providerLatencyMs: flags['provider-latency'] as number,
    cpuProfDir: flags['cpu-prof-dir'] as string,
    oursMain: (flags['ours-main'] as string) || bundledMain(),
  };
  if (settings.lowRate + settings.backToBack > settings.mounts) throw new Error('--low-rate + --back-to-back must not exceed --mounts');
  return settings;
}

function driverBinaries(drivers: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (const driver of drivers.filter((name) => name !== 'ours')) {
    const { binary } = upstreamDriverPeer(driver.slice(1));
    if (!existsSync(binary)) throw new Error(`upstream driver ${driver} not found at ${binary}: run ${UPSTREAM_BUILD_SCRIPT} first (or leave it out with --drivers)`);
    found.set(driver, binary);
  }
  return found;
}

/** The round's order: each round starts with the next driver, so no driver always runs first (or after the same one). */
function rotated<T>(items: readonly T[], round: number): T[] {
  const shift = round % items.length;
  return [...items.slice(shift), ...items.slice(0, shift)];
}

/** The admin's kubeconfig as JSON, which every driver reads (the in-cluster configuration of a real node needs no YAML either). */
async function writeJsonKubeconfig(controlPlane: ControlPlane, path: string): Promise<string> {
  await writeFile(path, controlPlane.adminKubeConfig().exportConfig(), { mode: 0o600 });
  return path;
}

/** The CSIDriver (requiresRepublish, as upstream v1.6 needs for rotation), the namespace, the class and the running pods. */
async function arrangeCluster(controlPlane: ControlPlane, mounts: number): Promise<void> {
  const kubeConfig = controlPlane.adminKubeConfig();
  const core = kubeConfig.makeApiClient(CoreV1Api);
  await kubeConfig.makeApiClient(StorageV1Api).createCSIDriver({
    body: { metadata: { name: DRIVER_NAME }, spec: { podInfoOnMount: true, attachRequired: false, requiresRepublish: true, volumeLifecycleModes: ['Ephemeral'] } },
  });
  await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
  await kubeConfig.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({
    ...CSI,
    namespace: NAMESPACE,
    plural: 'secretproviderclasses',
    body: {
      apiVersion: `${CSI.group}/${CSI.version}`,
      kind: 'SecretProviderClass',
      metadata: { name: CLASS, namespace: NAMESPACE },
      spec: { provider: 'fake', parameters: { objects: OBJECTS.map((name) => `- name: ${name}`).join('\n') } },
    },
  });
  await inParallel(Array.from({ length: mounts }, (_, i) => i), 20, async (i) => {
    const name = podName(i);
    const body = {
      metadata: { name, namespace: NAMESPACE },
      spec: {
        nodeName: NODE,
        containers: [{ name: 'app', image: 'registry.k8s.io/pause:3.10' }],
        volumes: [{ name: 'secrets-store', csi: { driver: DRIVER_NAME, readOnly: true, volumeAttributes: { secretProviderClass: CLASS } } }],
      },
    } as V1Pod;
    const created = await core.createNamespacedPod({ namespace: NAMESPACE, body });
    await core.replaceNamespacedPodStatus({ namespace: NAMESPACE, name, body: { ...created, status: { ...created.status, phase: 'Running' } } });
  });
}

function podName(i: number): string {
  return `app-${String(i).padStart(5, '0')}`;
}

/** What the previous driver left: pod status objects and events go, so every driver starts from the same state. */
async function resetCluster(controlPlane: ControlPlane): Promise<void> {
  const kubeConfig = controlPlane.adminKubeConfig();
  const custom = kubeConfig.makeApiClient(CustomObjectsApi);
  await custom.deleteCollectionNamespacedCustomObject({ ...CSI, namespace: NAMESPACE, plural: 'secretproviderclasspodstatuses' });
  await kubeConfig.makeApiClient(CoreV1Api).deleteCollectionNamespacedEvent({ namespace: NAMESPACE });
}

async function targetsFor(controlPlane: ControlPlane, client: CsiNodeClient, kubeletRoot: string): Promise<Target[]> {
  const kubelet = new FakeKubelet(client, kubeletRoot);
  const volume = { name: 'secrets-store', volumeAttributes: { secretProviderClass: CLASS } };
  const pods = await controlPlane.adminKubeConfig().makeApiClient(CoreV1Api).listNamespacedPod({ namespace: NAMESPACE });
  const fakePods = pods.items
    .map((pod): FakePod => ({ namespace: NAMESPACE, name: pod.metadata!.name!, uid: pod.metadata!.uid!, serviceAccountName: 'default', volumes: [volume] }))
    .sort((a, b) => (a.name < b.name ? -1 : 1));
  const targets = await Promise.all(
    fakePods.map(async (pod) => {
      const command = await kubelet.publishCommand(pod, volume);
      return { command, volumeId: command.volumeId, targetPath: command.targetPath };
    }),
  );
  // kubelet creates the volume directory before it publishes.
  await inParallel(targets, 50, (target) => mkdir(join(target.targetPath, '..'), { recursive: true }).then(() => undefined));
  return targets;
}

interface RunContext {
  readonly driver: string;
  readonly round: number;
  readonly kubeconfig: string;
  readonly providers: string;
  readonly controlUrl: string;
}

async function runDriver(context: RunContext): Promise<Figures> {
  await resetCluster(plane);
  const dir = join(work, `${context.driver}-round${context.round + 1}`);
  const kubeletRoot = join(dir, 'kubelet');
  await mkdir(kubeletRoot, { recursive: true });
  const socket = join(dir, 'csi.sock');
  const child = startDriver(context, socket, kubeletRoot, join(dir, 'driver.log'));
  const pid = child.pid!;
  const client = new CsiNodeClient(socket);
  let peakRss = 0;
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, treeRssMiB(pid))), 200);
  const figures: Figures = {};
  try {
    await waitForSocket(socket, child, join(dir, 'driver.log'));
    const targets = await targetsFor(plane, client, kubeletRoot);
    await sleep(settings.settleMs);
    figures['rssBefore'] = treeRssMiB(pid);

    // 1. First publishes.
    const cpuStart = treeCpuSeconds(pid);
    const apiStart = await apiServerRequests(plane.server, plane.adminToken);
    const lowRate = targets.slice(0, settings.lowRate);
    const lowRateCalls = await paced(lowRate, (target) => client.publish(target.command));
    figures['publishLowP50'] = percentile(lowRateCalls, 50);
    figures['publishLowP99'] = percentile(lowRateCalls, 99);
    figures['cpuPerPublishLow'] = ((treeCpuSeconds(pid) - cpuStart) * 1000) / lowRate.length;
    const serial = await concurrently(targets.slice(settings.lowRate, settings.lowRate + settings.backToBack), 1, (target) => client.publish(target.command));
    figures['publishC1P50'] = percentile(serial.durations, 50);
    figures['publishC1Rate'] = serial.rate;
    const parallel = await concurrently(targets.slice(settings.lowRate + settings.backToBack), settings.concurrency, (target) => client.publish(target.command));
    figures['publishCnP50'] = percentile(parallel.durations, 50);
    figures['publishCnRate'] = parallel.rate;
    figures['cpuFirstPublishes'] = treeCpuSeconds(pid) - cpuStart;
    figures['apiReadsFirstPublishes'] = countsSince(apiStart, await apiServerRequests(plane.server, plane.adminToken)).reads;

    // 2. Idle with rotation: no kubelet call.
    const idle = await measured(pid, context.controlUrl, () => sleep(settings.idleMs));
    figures['cpuIdle'] = idle.cpuSeconds;
    figures['providerCallsIdle'] = idle.providerCalls;
    figures['cpuPerCheckIdle'] = idle.providerCalls > 0 ? (idle.cpuSeconds * 1000) / idle.providerCalls : Number.NaN;
    figures['apiWritesIdle'] = idle.requests.writes;
    figures['rssAfterMounts'] = treeRssMiB(pid);

    // 3. A republish round, nothing changed in the store.
    const republish = await measured(pid, context.controlUrl, () => concurrently(targets, settings.concurrency, (target) => client.publish(target.command)));
    figures['apiWritesRepublish'] = republish.requests.writes;

    // 4. Store change: every object gets a new version; kubelet keeps republishing (spread over its resync period).
    const change = await measured(pid, context.controlUrl, () => storeChange(targets, client, context.controlUrl));
    figures['storeChangeSeconds'] = change.result.seconds;
    figures['storeChangeStillOld'] = change.result.stillOld;
    figures['cpuPerRotatedMount'] = (change.cpuSeconds * 1000) / targets.length;

    // 5. Unpublish; a refused call is retried, as kubelet retries it.
    let retries = 0;
    const unpublish = async (target: Target): Promise<void> => {
      for (let attempt = 1; ; attempt++) {
        try {
          return await client.unpublish(target);
        } catch (error) {
          if (attempt >= UNPUBLISH_ATTEMPTS) throw error;
          retries++;
          await sleep(UNPUBLISH_RETRY_MS);
        }
      }
    };
    const lowUnpublish = await paced(lowRate, unpublish);
    figures['unpublishLowP50'] = percentile(lowUnpublish, 50);
    const rest = await concurrently(targets.slice(settings.lowRate), settings.concurrency, unpublish);
    figures['unpublishCnP50'] = percentile(rest.durations, 50);
    figures['unpublishCnRate'] = rest.rate;
    figures['unpublishRetries'] = retries;
  } finally {
    clearInterval(sampler);
    client.close();
    figures['peakRss'] = Math.max(peakRss, peakRssMiB(pid));
    await stopDriver(child);
    // A driver that failed half-way may leave mounts behind.
    for (const mount of mountsUnder(kubeletRoot).reverse()) spawnSync('umount', ['-l', mount]);
  }
  return figures;
}

function startDriver(context: RunContext, socket: string, kubeletRoot: string, logPath: string): ChildProcess {
  const interval = `${settings.intervalMs / 1000}s`;
  const log = openSync(logPath, 'a');
  try {
    if (context.driver === 'ours') {
      const profile = settings.cpuProfDir === '' ? [] : ['--cpu-prof', `--cpu-prof-dir=${settings.cpuProfDir}`];
      const args = [
        ...profile, settings.oursMain, 'driver', '--cluster=kubernetes', `--kubeconfig=${context.kubeconfig}`, `--endpoint=unix://${socket}`, `--nodeid=${NODE}`,
        `--provider-volume=${context.providers}`, '--additional-provider-volume-paths=', `--kubelet-root=${kubeletRoot}`,
        '--metrics-addr=127.0.0.1:0', '--health-addr=127.0.0.1:0', '--enable-secret-rotation=true', `--rotation-poll-interval=${interval}`,
      ];
      return spawn(process.execPath, args, { stdio: ['ignore', log, log], env: { ...process.env, ...daemonSetTuning(), NODE_OPTIONS: settings.nodeOptions } });
    }
    // Run from the provider directory with `--provider-volume=.`: v1.4.8's gRPC client sends the socket path as
    // :authority, and the fake provider's HTTP/2 server refuses one with slashes; "fake.sock" passes.
    const args = [
      `--endpoint=unix://${socket}`, `--nodeid=${NODE}`, '--provider-volume=.', '--additional-provider-volume-paths=.',
      '--metrics-addr=127.0.0.1:0', '--enable-secret-rotation=true', `--rotation-poll-interval=${interval}`,
    ];
    return spawn(binaries.get(context.driver)!, args, { cwd: context.providers, stdio: ['ignore', log, log], env: { ...process.env, KUBECONFIG: context.kubeconfig } });
  } finally {
    closeSync(log);
  }
}

async function waitForSocket(socket: string, child: ChildProcess, logPath: string): Promise<void> {
  const deadline = Date.now() + 60_000;
  while (!existsSync(socket)) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`driver did not serve ${socket} (exit ${child.exitCode}):\n${(await readFile(logPath, 'utf8').catch(() => '')).slice(-3000)}`);
    }
    await sleep(50);
  }
}

async function stopDriver(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  if ((await Promise.race([exited.then(() => true), sleep(30_000).then(() => false)])) === false) {
    child.kill('SIGKILL');
    await exited;
  }
}

/** One call at a time, each started `--low-rate-gap` after the previous one started; returns each call's milliseconds. */
async function paced(targets: readonly Target[], call: (target: Target) => Promise<void>): Promise<number[]> {
  const durations: number[] = [];
  for (const target of targets) {
    const started = performance.now();
    await call(target);
    const took = performance.now() - started;
    durations.push(took);
    if (took < settings.lowRateGapMs) await sleep(settings.lowRateGapMs - took);
  }
  return durations.sort((a, b) => a - b);
}

/** Calls with `concurrency` in flight; each call's milliseconds (sorted) and calls per second. */
async function concurrently(targets: readonly Target[], concurrency: number, call: (target: Target) => Promise<void>): Promise<{ durations: number[]; rate: number }> {
  const durations: number[] = [];
  const started = performance.now();
  await inParallel(targets, concurrency, async (target) => {
    const t0 = performance.now();
    await call(target);
    durations.push(performance.now() - t0);
  });
  const seconds = (performance.now() - started) / 1000;
  return { durations: durations.sort((a, b) => a - b), rate: targets.length / seconds };
}

async function inParallel<T>(items: readonly T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(concurrency, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

/** CPU seconds of the driver, provider calls and API requests while `phase` runs. */
async function measured<T>(pid: number, controlUrl: string, phase: () => Promise<T>): Promise<{ result: T; cpuSeconds: number; providerCalls: number; requests: RequestCounts }> {
  const cpu = treeCpuSeconds(pid);
  const calls = await providerCalls(controlUrl);
  const requests = await apiServerRequests(plane.server, plane.adminToken);
  const result = await phase();
  return {
    result,
    cpuSeconds: treeCpuSeconds(pid) - cpu,
    providerCalls: (await providerCalls(controlUrl)) - calls,
    requests: countsSince(requests, await apiServerRequests(plane.server, plane.adminToken)),
  };
}

async function providerCalls(controlUrl: string): Promise<number> {
  const state = (await (await fetch(`${controlUrl}/state`)).json()) as { mountCount: number };
  return state.mountCount;
}

/**
 * Gives every object a new version, then republishes each pod every `--republish-every` (pod i first at
 * i/N of the period, as kubelet spreads its pod syncs) until every mounted file holds its new contents.
 */
async function storeChange(targets: readonly Target[], client: CsiNodeClient, controlUrl: string): Promise<{ seconds: number; stillOld: number }> {
  const expected = new Map<string, string>();
  for (const name of OBJECTS) {
    const response = await fetch(`${controlUrl}/rotate`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ name }) });
    const { version } = (await response.json()) as { version: string };
    expected.set(name, `${name}-${version}`);
  }
  const started = performance.now();
  const deadline = started + settings.storeChangeTimeoutMs;
  const old = new Set(targets);
  const nextRepublish = new Map(targets.map((target, i) => [target, started + ((i + 1) / targets.length) * settings.republishEveryMs]));
  let inFlight = 0;
  while (old.size > 0 && performance.now() < deadline) {
    const now = performance.now();
    for (const [target, due] of nextRepublish) {
      if (due > now || inFlight >= settings.concurrency) continue;
      nextRepublish.set(target, due + settings.republishEveryMs);
      inFlight++;
      void client.publish(target.command).catch(() => undefined).finally(() => inFlight--);
    }
    await inParallel([...old], 50, async (target) => {
      if (await holds(target, expected)) old.delete(target);
    });
    if (old.size > 0) await sleep(250);
  }
  const seconds = (performance.now() - started) / 1000;
  while (inFlight > 0) await sleep(20);
  return { seconds: old.size === 0 ? seconds : Number.NaN, stillOld: old.size };
}

async function holds(target: Target, expected: ReadonlyMap<string, string>): Promise<boolean> {
  for (const [name, contents] of expected) {
    if ((await readFile(join(target.targetPath, name), 'utf8').catch(() => '')) !== contents) return false;
  }
  return true;
}

interface Row {
  readonly label: string;
  readonly key: string;
  readonly digits: number;
}

function renderTable(runs: ReadonlyMap<string, Figures[]>): string {
  const n = settings.mounts;
  const rows: Row[] = [
    { label: 'publish p50, low rate (ms)', key: 'publishLowP50', digits: 1 },
    { label: 'publish p99, low rate (ms)', key: 'publishLowP99', digits: 1 },
    { label: 'driver CPU per publish, low rate (ms)', key: 'cpuPerPublishLow', digits: 1 },
    { label: 'unpublish p50, low rate (ms)', key: 'unpublishLowP50', digits: 1 },
    { label: 'publish C=1 back to back p50 (ms)', key: 'publishC1P50', digits: 1 },
    { label: 'publish C=1 back to back (per s)', key: 'publishC1Rate', digits: 0 },
    { label: `publish C=${settings.concurrency} p50 (ms)`, key: 'publishCnP50', digits: 0 },
    { label: `publish C=${settings.concurrency} (per s)`, key: 'publishCnRate', digits: 0 },
    { label: `store change -> all ${n} mounts' files new (s)`, key: 'storeChangeSeconds', digits: 1 },
    { label: 'mounts still old when giving up', key: 'storeChangeStillOld', digits: 0 },
    { label: `API writes, ${settings.idleMs / 1000} s idle`, key: 'apiWritesIdle', digits: 0 },
    { label: 'API writes, republish round (nothing changed)', key: 'apiWritesRepublish', digits: 0 },
    { label: 'RSS before any mount (MiB)', key: 'rssBefore', digits: 0 },
    { label: `RSS after ${n} mounts, idle (MiB)`, key: 'rssAfterMounts', digits: 0 },
    { label: 'peak RSS over the run (MiB)', key: 'peakRss', digits: 0 },
    { label: `driver CPU for ${n} first publishes (s)`, key: 'cpuFirstPublishes', digits: 2 },
    { label: `driver CPU for ${settings.idleMs / 1000} s idle with rotation (s)`, key: 'cpuIdle', digits: 2 },
    { label: `provider calls in ${settings.idleMs / 1000} s idle`, key: 'providerCallsIdle', digits: 0 },
    { label: 'driver CPU per provider call, idle (ms)', key: 'cpuPerCheckIdle', digits: 2 },
    { label: 'driver CPU per rotated mount (ms)', key: 'cpuPerRotatedMount', digits: 2 },
    { label: `unpublish C=${settings.concurrency} p50 (ms)`, key: 'unpublishCnP50', digits: 0 },
    { label: `unpublish C=${settings.concurrency} (per s)`, key: 'unpublishCnRate', digits: 0 },
    { label: 'unpublish calls refused and retried', key: 'unpublishRetries', digits: 0 },
    { label: `API reads (GET+LIST) during ${n} first publishes`, key: 'apiReadsFirstPublishes', digits: 0 },
  ];
  const drivers = [...runs.keys()];
  const upstream = drivers.filter((driver) => driver !== 'ours');
  const withOurs = drivers.includes('ours');
  const header = ['figure', ...drivers, ...(withOurs ? upstream.map((driver) => `ours / ${driver}`) : [])];
  const lines = [
    `medians of ${settings.rounds} interleaved round(s); ${n} mounts, rotation every ${settings.intervalMs / 1000} s, provider latency ${settings.providerLatencyMs} ms, NODE_OPTIONS="${settings.nodeOptions}", GLIBC_TUNABLES="${daemonSetTuning()['GLIBC_TUNABLES']}"`,
    '',
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
  ];
  for (const row of rows) {
    const medians = new Map(drivers.map((driver) => [driver, median(runs.get(driver)!.map((figures) => figures[row.key] ?? Number.NaN))]));
    const cells = drivers.map((driver) => format(medians.get(driver)!, row.digits));
    const ratios = withOurs ? upstream.map((driver) => ratio(medians.get('ours')!, medians.get(driver)!)) : [];
    lines.push(`| ${[row.label, ...cells, ...ratios].join(' | ')} |`);
  }
  return lines.join('\n');
}

function median(values: readonly number[]): number {
  const known = values.filter((value) => !Number.isNaN(value)).sort((a, b) => a - b);
  if (known.length === 0) return Number.NaN;
  const middle = Math.floor(known.length / 2);
  return known.length % 2 === 1 ? known[middle]! : (known[middle - 1]! + known[middle]!) / 2;
}

function format(value: number, digits: number): string {
  return Number.isNaN(value) ? 'n/a' : value.toFixed(digits);
}

function ratio(ours: number, theirs: number): string {
  if (Number.isNaN(ours) || Number.isNaN(theirs)) return 'n/a';
  if (theirs === 0) return ours === 0 ? '=' : 'inf';
  return `${(ours / theirs).toFixed(2)}x`;
}
