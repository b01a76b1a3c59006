// Rotation benchmark: N bindings on one node across C classes, in process: the real core (application
// module) with the in-memory cluster, real files (the atomic writer on node:fs in a temporary
// directory, the plain-directory mounter; --files=memfs for memfs) and the in-process fake provider
// behind a fixed latency. Prints, for one full rotation pass: wall time, provider calls, Kubernetes API
// writes (every create/update/patch/delete the in-memory API server receives) and peak RSS of this
// process, for (a) nothing changed, (b) 10% of the objects changed, (c) fetch sharing on, (d) sharing
// on and 10% changed. Then the propagation latency (store change -> file swapped) with the rotation
// loop running on real time, and the on-demand trigger latency (rotate-requested-at set on a pod or a
// class -> its files swapped) with a one-hour interval, so only the trigger can rotate. Figures only.
import 'reflect-metadata';
import { Container } from 'inversify';
import { Volume } from 'memfs';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InProcessSecretProvider } from '../src/adapters/fake-provider/in-process-provider.js';
import type { PodResource, SecretProviderClassResource } from '../src/adapters/kube-objects/object-shapes.js';
import { InMemoryCluster } from '../src/adapters/memory-cluster/cluster-store.js';
import { MemoryMetrics } from '../src/adapters/memory-metrics/memory-metrics.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { applicationModule } from '../src/app/modules/application.module.js';
import { memfsFilesModule, nodeFilesModule } from '../src/app/modules/files.module.js';
import { memoryClusterModule } from '../src/app/modules/memory-cluster.module.js';
import { givenProviderModule } from '../src/app/modules/provider.module.js';
import { runtimeModule } from '../src/app/modules/runtime.module.js';
import { RotationReconciler, type ReconcilerSettings } from '../src/application/rotation-reconciler.js';
import type { RotationOutcome } from '../src/application/rotate-binding.js';
import { FETCH_SHARING_ANNOTATION } from '../src/domain/fetch-key.js';
import { RotationAnnotation } from '../src/domain/rotation-policy.js';
import type { ProviderMountRequest, ProviderMountResponse } from '../src/domain/provider-request.js';
import { VolumeContextKey } from '../src/domain/volume-context.js';
import type { CancelTimer, Clock, Random, Scheduler } from '../src/ports/clock.js';
import type { Logger } from '../src/ports/logger.js';
import { NodeVolumes } from '../src/ports/node-volumes.js';
import type { SecretProvider } from '../src/ports/secret-provider.js';
import { peakRssMiB, percentile } from './bench-support.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'bindings', kind: 'int', default: 1000, help: 'mounted volumes (one pod each) on the node' },
  { name: 'classes', kind: 'int', default: 50, help: 'SecretProviderClasses (two objects each)' },
  { name: 'namespaces', kind: 'int', default: 5, help: 'namespaces the classes are spread over' },
  { name: 'service-accounts', kind: 'int', default: 4, help: 'service accounts among the pods of one class' },
  { name: 'workers', kind: 'int', default: 4, help: '--rotation-workers' },
  { name: 'provider-latency', kind: 'duration', default: 20, help: 'fixed latency of each provider call' },
  { name: 'files', kind: 'string', default: 'tmp', help: 'tmp (node:fs in a temporary directory) or memfs' },
  { name: 'interval', kind: 'duration', default: 10_000, help: '--rotation-poll-interval of the latency run' },
  { name: 'jitter', kind: 'float', default: 0.1, help: '--rotation-jitter' },
  { name: 'warmup', kind: 'duration', default: 20_000, help: 'latency run: time the loop runs before the first change' },
  { name: 'change-window', kind: 'duration', default: 20_000, help: 'latency run: time over which objects change' },
  { name: 'triggers', kind: 'int', default: 200, help: 'on-demand run: pod triggers (plus one class trigger per 10 of them)' },
  { name: 'trigger-window', kind: 'duration', default: 20_000, help: 'on-demand run: time over which the triggers are spread' },
  { name: 'skip-latency', kind: 'bool', default: false, help: 'print the pass figures only' },
];

const options = parseFlags(FLAGS, process.argv.slice(2));
const BINDINGS = options['bindings'] as number;
const CLASSES = options['classes'] as number;
const NAMESPACES = Math.min(options['namespaces'] as number, CLASSES);
const SERVICE_ACCOUNTS = options['service-accounts'] as number;
const WORKERS = options['workers'] as number;
const LATENCY_MS = options['provider-latency'] as number;
const FILES = options['files'] as string;
const INTERVAL_MS = options['interval'] as number;
const JITTER = options['jitter'] as number;
if (FILES !== 'tmp' && FILES !== 'memfs') throw new Error('--files must be tmp or memfs');

/** Real time that can be moved forward, so one pass can find every binding due without waiting an interval. */
class SkippableClock implements Clock, Scheduler, Random {
  offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  after(delayMs: number, callback: () => void): CancelTimer {
    const timer = setTimeout(callback, Math.min(Math.max(0, delayMs), 2 ** 31 - 1));
    return () => clearTimeout(timer);
  }
  next(): number {
    return Math.random();
  }
}

/** The fake provider behind a fixed latency, counting calls. */
class SlowProvider implements SecretProvider {
  calls = 0;
  constructor(readonly inner: InProcessSecretProvider, private readonly latencyMs: number) {}
  async mount(providerName: string, request: ProviderMountRequest): Promise<ProviderMountResponse> {
    this.calls += 1;
    await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
    return this.inner.mount(providerName, request);
  }
}

const silent: Logger = { debug() {}, info() {}, warn() {}, error() {} };

interface Writes {
  total: number;
  byKind: Map<string, number>;
}

interface Core {
  readonly clock: SkippableClock;
  readonly cluster: InMemoryCluster;
  readonly provider: SlowProvider;
  readonly reconciler: RotationReconciler;
  readonly volumes: NodeVolumes;
  readonly writes: Writes;
  readonly outcomes: RotationOutcome[];
  stop(): Promise<void>;
}

const objectName = (classIndex: number, which: 'db' | 'api'): string => `c${classIndex}-${which}`;
const namespaceOf = (classIndex: number): string => `ns-${classIndex % NAMESPACES}`;
const classOf = (pod: number): number => pod % CLASSES;
const serviceAccountOf = (pod: number): string => `sa-${Math.floor(pod / CLASSES) % SERVICE_ACCOUNTS}`;
const podUid = (pod: number): string => `pod-uid-${String(pod).padStart(5, '0')}`;

async function buildCore(work: string, intervalMs = INTERVAL_MS): Promise<Core> {
  const clock = new SkippableClock();
  const cluster = new InMemoryCluster({ clock });
  const provider = new SlowProvider(new InProcessSecretProvider(), LATENCY_MS);
  const kubeletRoot = join(work, 'kubelet');
  const rotation: ReconcilerSettings = {
    enabled: true,
    intervalMs,
    minClassIntervalMs: 5_000,
    jitterFraction: JITTER,
    backoffBaseMs: 1_000,
    workers: WORKERS,
  };
  const container = new Container();
  container.load(
    runtimeModule({ clock, logger: silent, metrics: new MemoryMetrics() }),
    memoryClusterModule(cluster),
    FILES === 'memfs' ? memfsFilesModule(new Volume()) : nodeFilesModule('directory', kubeletRoot),
    givenProviderModule(provider),
    applicationModule({ nodeName: 'bench-node', kubeletRoot, rotation }),
  );
  const writes: Writes = { total: 0, byKind: new Map() };
  cluster.interceptWrites(({ kind }) => {
    writes.total += 1;
    writes.byKind.set(kind, (writes.byKind.get(kind) ?? 0) + 1);
    return undefined;
  });
  const reconciler = container.get(RotationReconciler);
  const outcomes: RotationOutcome[] = [];
  reconciler.onOutcome((outcome) => outcomes.push(outcome));
  for (let c = 0; c < CLASSES; c++) cluster.create(classResource(c));
  for (let p = 0; p < BINDINGS; p++) cluster.create(podResource(p));
  return {
    clock,
    cluster,
    provider,
    reconciler,
    volumes: container.get<NodeVolumes>(NodeVolumes),
    writes,
    outcomes,
    async stop() {
      await reconciler.stop();
      await container.unbindAll();
    },
  };
}

function classResource(c: number): SecretProviderClassResource {
  const secretObjects = c % 5 === 0 ? [{ secretName: `c${c}-synced`, type: 'Opaque', data: [{ objectName: objectName(c, 'db'), key: 'password' }] }] : undefined;
  return {
    apiVersion: 'secrets-store.csi.x-k8s.io/v1',
    kind: 'SecretProviderClass',
    metadata: { name: `class-${c}`, namespace: namespaceOf(c) },
    spec: {
      provider: 'fake',
      parameters: { objects: `${objectName(c, 'db')},${objectName(c, 'api')}` },
      ...(secretObjects ? { secretObjects } : {}),
    },
  };
}

/** Pods of a class belong to one ReplicaSet, as in a Deployment, so a synced Secret has one owner set. */
function podResource(p: number): PodResource {
  const c = classOf(p);
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `pod-${p}`,
      namespace: namespaceOf(c),
      uid: podUid(p),
      ownerReferences: [{ apiVersion: 'apps/v1', kind: 'ReplicaSet', name: `class-${c}-rs`, uid: `rs-uid-${c}`, controller: true }],
    },
    spec: { nodeName: 'bench-node', serviceAccountName: serviceAccountOf(p), volumes: [] },
    status: { phase: 'Running' },
  };
}

async function publishAll(core: Core, work: string, concurrency = 16): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < BINDINGS) {
        const p = next++;
        const c = classOf(p);
        await core.volumes.publish({
          volumeId: `csi-${podUid(p)}`,
          targetPath: join(work, 'kubelet', 'pods', podUid(p), 'volumes', 'kubernetes.io~csi', 'secrets', 'mount'),
          readonly: true,
          volumeContext: {
            [VolumeContextKey.secretProviderClass]: `class-${c}`,
            [VolumeContextKey.podName]: `pod-${p}`,
            [VolumeContextKey.podNamespace]: namespaceOf(c),
            [VolumeContextKey.podUid]: podUid(p),
            [VolumeContextKey.serviceAccountName]: serviceAccountOf(p),
            [VolumeContextKey.ephemeral]: 'true',
          },
          secrets: {},
        });
      }
    }),
  );
  await core.cluster.whenIdle();
}

/** The objects changed in a 10% step: every tenth of the 2 x classes objects, from `first`. */
function tenPercentOfObjects(first: number): string[] {
  const all = Array.from({ length: CLASSES }, (_, c) => [objectName(c, 'db'), objectName(c, 'api')]).flat();
  return all.filter((_, index) => index % 10 === first % 10);
}

async function onePass(core: Core, label: string, expectedCalls?: { figure: number; what: string }): Promise<void> {
  await core.cluster.whenIdle();
  core.clock.offsetMs += Math.ceil(INTERVAL_MS * (1 + JITTER)) + 1; // every binding is due now
  const calls = core.provider.calls;
  const writesBefore = { total: core.writes.total, byKind: new Map(core.writes.byKind) };
  core.outcomes.length = 0;
  const started = performance.now();
  await core.reconciler.runDueChecks();
  const wallMs = performance.now() - started;
  await core.cluster.whenIdle();
  const providerCalls = core.provider.calls - calls;
  const writes = core.writes.total - writesBefore.total;
  const byKind = [...core.writes.byKind.entries()]
    .map(([kind, n]) => [kind, n - (writesBefore.byKind.get(kind) ?? 0)] as const)
    .filter(([, n]) => n > 0)
    .map(([kind, n]) => `${kind} ${n}`)
    .join(', ');
  const kinds = countBy(core.outcomes.map((o) => o.kind));
  const ideal = (providerCalls * LATENCY_MS) / WORKERS;
  console.log(
    `${label}: wall ${wallMs.toFixed(0)} ms (calls x latency / workers = ${ideal.toFixed(0)} ms, ratio ${(wallMs / Math.max(1, ideal)).toFixed(2)}); ` +
      `provider calls ${providerCalls}${expectedCalls ? ` (${expectedCalls.what} ${expectedCalls.figure})` : ''}; ` +
      `API writes ${writes}${byKind ? ` (${byKind})` : ''}; checks ${core.outcomes.length} (${kinds}); peak RSS ${peakRssMiB(process.pid).toFixed(0)} MiB`,
  );
}

function countBy(values: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const value of values) counts.set(value, (counts.get(value) ?? 0) + 1);
  return [...counts.entries()].map(([k, n]) => `${k} ${n}`).join(', ');
}

function distinctSharingKeys(): number {
  const keys = new Set<string>();
  for (let p = 0; p < BINDINGS; p++) keys.add(`${namespaceOf(classOf(p))}/${classOf(p)}/${serviceAccountOf(p)}`);
  return keys.size;
}

async function passes(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sscsi-rotation-bench-'));
  const core = await buildCore(work);
  try {
    const t0 = performance.now();
    await publishAll(core, work);
    console.log(
      `setup: ${BINDINGS} bindings, ${CLASSES} classes (2 objects each, every 5th syncs a Secret), ${NAMESPACES} namespaces, ` +
        `${SERVICE_ACCOUNTS} service accounts per class; workers ${WORKERS}; provider latency ${LATENCY_MS} ms; files ${describeFiles(work)}; ` +
        `published in ${(performance.now() - t0).toFixed(0)} ms`,
    );
    await onePass(core, '(a) nothing changed');
    for (const name of tenPercentOfObjects(0)) core.provider.inner.store.rotate(name);
    await onePass(core, '(b) 10% of objects changed');
    for (let c = 0; c < CLASSES; c++) {
      const spc = core.cluster.get('SecretProviderClass', namespaceOf(c), `class-${c}`)!;
      spc.metadata.annotations = { ...(spc.metadata.annotations ?? {}), [FETCH_SHARING_ANNOTATION]: 'serviceaccount' };
      core.cluster.update(spc);
    }
    await onePass(core, '(c) fetch sharing on, nothing changed', { figure: distinctSharingKeys(), what: 'distinct sharing keys' });
    for (const name of tenPercentOfObjects(5)) core.provider.inner.store.rotate(name);
    await onePass(core, '(d) fetch sharing on, 10% changed', { figure: distinctSharingKeys(), what: 'distinct sharing keys' });
  } finally {
    await core.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/** Store change -> file swapped, with the loop on real time; every object changes once. */
async function latencyRun(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sscsi-rotation-bench-'));
  const core = await buildCore(work);
  const changedAt = new Map<string, number>();
  const latencies: number[] = [];
  core.reconciler.onOutcome((outcome) => {
    if (outcome.kind !== 'rotated') return;
    const now = Date.now();
    for (const change of outcome.versions.changed) {
      const at = changedAt.get(change.id);
      if (at !== undefined) latencies.push(now - at);
    }
  });
  try {
    core.reconciler.start();
    await publishAll(core, work);
    const warmup = options['warmup'] as number;
    const window = options['change-window'] as number;
    await sleep(warmup);
    const objects = Array.from({ length: CLASSES }, (_, c) => [objectName(c, 'db'), objectName(c, 'api')]).flat();
    const shuffled = objects.map((name) => ({ name, at: Math.random() * window })).sort((a, b) => a.at - b.at);
    const start = Date.now();
    for (const { name, at } of shuffled) {
      await sleep(Math.max(0, start + at - Date.now()));
      changedAt.set(name, Date.now());
      core.provider.inner.store.rotate(name);
    }
    const expected = objects.length * (BINDINGS / CLASSES);
    const deadline = Date.now() + INTERVAL_MS * (1 + JITTER) + 30_000;
    while (latencies.length < expected && Date.now() < deadline) await sleep(200);
    const sorted = [...latencies].sort((a, b) => a - b);
    const target = INTERVAL_MS * (1 + JITTER) + 1_000;
    console.log(
      `propagation latency (store change -> file swapped), interval ${INTERVAL_MS / 1000} s, jitter ${JITTER * 100}%: ` +
        `${sorted.length}/${expected} samples; p50 ${(percentile(sorted, 50) / 1000).toFixed(2)} s, p90 ${(percentile(sorted, 90) / 1000).toFixed(2)} s, ` +
        `p99 ${(percentile(sorted, 99) / 1000).toFixed(2)} s, max ${(sorted[sorted.length - 1]! / 1000).toFixed(2)} s (target p99 <= ${(target / 1000).toFixed(1)} s); ` +
        `provider calls ${core.provider.calls - BINDINGS} in ${((Date.now() - start + warmup) / 1000).toFixed(0)} s; peak RSS ${peakRssMiB(process.pid).toFixed(0)} MiB`,
    );
  } finally {
    await core.stop();
    await rm(work, { recursive: true, force: true });
  }
}

/**
 * rotate-requested-at -> file swapped, with a one-hour interval so only the trigger rotates. Each pod
 * trigger first changes an object of the pod's class in the store, then annotates the pod; each class
 * trigger changes an object and annotates the class, and every pod of the class counts as a sample.
 */
async function onDemandRun(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sscsi-rotation-bench-'));
  const core = await buildCore(work, 3_600_000);
  const requestedAt = new Map<string, number>();
  const latencies = { pod: [] as number[], class: [] as number[] };
  core.reconciler.onOutcome((outcome) => {
    if (outcome.kind !== 'rotated') return;
    const { pod, className } = outcome.binding.request;
    const podRequest = requestedAt.get(`pod/${pod.namespace}/${pod.name}`);
    const classRequest = requestedAt.get(`class/${pod.namespace}/${className}`);
    if (podRequest !== undefined) latencies.pod.push(Date.now() - podRequest);
    else if (classRequest !== undefined) latencies.class.push(Date.now() - classRequest);
    requestedAt.delete(`pod/${pod.namespace}/${pod.name}`);
  });
  const annotate = (object: PodResource | SecretProviderClassResource, value: string): void => {
    object.metadata.annotations = { ...(object.metadata.annotations ?? {}), [RotationAnnotation.rotateRequestedAt]: value };
    core.cluster.update(object);
  };
  try {
    core.reconciler.start();
    await publishAll(core, work);
    const pods = options['triggers'] as number;
    const classes = Math.max(1, Math.floor(pods / 10));
    const window = options['trigger-window'] as number;
    const triggers = [
      ...Array.from({ length: pods }, (_, i) => ({ kind: 'pod' as const, index: (i * 7919) % BINDINGS, at: Math.random() * window })),
      ...Array.from({ length: classes }, (_, i) => ({ kind: 'class' as const, index: (i * 13) % CLASSES, at: Math.random() * window })),
    ].sort((a, b) => a.at - b.at);
    const start = Date.now();
    let classSamples = 0;
    for (const [n, trigger] of triggers.entries()) {
      await sleep(Math.max(0, start + trigger.at - Date.now()));
      const c = trigger.kind === 'pod' ? classOf(trigger.index) : trigger.index;
      core.provider.inner.store.rotate(objectName(c, 'api'));
      if (trigger.kind === 'pod') {
        const object = core.cluster.get('Pod', namespaceOf(c), `pod-${trigger.index}`)!;
        requestedAt.set(`pod/${namespaceOf(c)}/pod-${trigger.index}`, Date.now());
        annotate(object, `trigger-${n}`);
      } else {
        classSamples += BINDINGS / CLASSES;
        requestedAt.set(`class/${namespaceOf(c)}/class-${c}`, Date.now());
        annotate(core.cluster.get('SecretProviderClass', namespaceOf(c), `class-${c}`)!, `trigger-${n}`);
      }
    }
    const expected = pods + classSamples;
    const deadline = Date.now() + 30_000;
    while (latencies.pod.length + latencies.class.length < expected && Date.now() < deadline) await sleep(100);
    const describe = (label: string, values: number[]): string => {
      const sorted = [...values].sort((a, b) => a - b);
      return `${label} ${sorted.length} samples, p50 ${percentile(sorted, 50).toFixed(0)} ms, p99 ${percentile(sorted, 99).toFixed(0)} ms, max ${(sorted.at(-1) ?? NaN).toFixed(0)} ms`;
    };
    console.log(
      `on-demand trigger latency (rotate-requested-at -> file swapped, interval 1 h): ${describe('pod', latencies.pod)}; ${describe('class', latencies.class)} ` +
        `(target p99 <= 1000 ms); ${pods} pod and ${classes} class triggers over ${(window / 1000).toFixed(0)} s`,
    );
  } finally {
    await core.stop();
    await rm(work, { recursive: true, force: true });
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Where the files go, with the file system type of the temporary directory. */
function describeFiles(work: string): string {
  if (FILES === 'memfs') return 'memfs';
  try {
    let best = { point: '', type: '?' };
    for (const line of readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
      const fields = line.split(' ');
      const point = fields[4] ?? '';
      const type = fields[fields.indexOf('-') + 1] ?? '?';
      if ((work === point || work.startsWith(point.endsWith('/') ? point : `${point}/`)) && point.length >= best.point.length) best = { point, type };
    }
    return `real files in ${tmpdir()} (${best.type})`;
  } catch {
    return `real files in ${tmpdir()}`;
  }
}

await passes();
if (!(options['skip-latency'] as boolean)) {
  await latencyRun();
  await onDemandRun();
}
// Retired version directories are removed on timers; nothing else is left to wait for.
process.exit(0);
