// Large-payload memory benchmark: the driver process (`driver --cluster memory`, real tmpfs mounts, the V8
// heap capped as the chart caps it) serves N concurrent first publishes whose provider answers are one
// object of --payload-bytes each, then one rotation pass over all of them (every object changes; the class
// gets a new rotate-requested-at value, so every mount is due at once). The fake provider runs in this
// process behind its unix socket; the fake kubelet calls over the CSI socket and, like kubelet, retries a
// publish that failed with RESOURCE_EXHAUSTED or ABORTED after 0.5 s, doubling (up to 8 s here, where kubelet
// goes up to 2 minutes, so that a small budget does not make the run last minutes). Prints the driver's peak
// RSS (VmHWM of /proc/<pid>/status) after start, after the publishes and after the rotation, next to the
// memory limit of the chart (deploy/charts/.../values.yaml linux.driver.resources.limits.memory). The driver
// gets the --payload-memory-budget it derives in the chart's container (the limit there, its own heap limit
// under --node-options); this machine's own cgroup has no such limit. Also prints the bytes the mounts hold in
// tmpfs: in a cluster they count against the driver container's memory limit too (tmpfs pages are charged to
// the cgroup of the process that writes them), next to its RSS.
// Needs root (tmpfs). Example:
//   node dist/bench/large-payloads.js --pods 40 --payload-bytes 4000000
import 'reflect-metadata';
import { execFileSync } from 'node:child_process';
import { readFileSync, statfsSync } from 'node:fs';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { parse as parseYaml } from 'yaml';
import { CsiCallError, CsiNodeClient } from '../src/adapters/fake-kubelet/csi-node-client.js';
import { volumeId } from '../src/adapters/fake-kubelet/fake-kubelet.js';
import { startFakeProvider } from '../src/adapters/fake-provider/fake-provider-server.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { defaultPayloadMemoryBudget } from '../src/domain/payload-memory.js';
import type { PublishCommand } from '../src/domain/volume-binding.js';
import { bundledMain, CliProcess, sleep } from '../test/e2e/processes.js';
import { projectRoot } from '../test/support/project-root.js';
import { TmpfsSandbox } from '../test/support/tmpfs-sandbox.js';
import { daemonSetNodeOptions, daemonSetTuning, peakRssMiB } from './bench-support.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'pods', kind: 'int', default: 40, help: 'pods published at the same time (one volume each)' },
  { name: 'payload-bytes', kind: 'int', default: 4_000_000, help: 'size of the one object each provider answer carries' },
  { name: 'node-options', kind: 'string', default: '', help: "NODE_OPTIONS of the driver (default: deploy/daemonset.yaml's, the heap cap the chart sets)" },
  { name: 'driver-flag', kind: 'list', default: [], help: 'extra driver flags, e.g. --driver-flag=--payload-memory-budget=33554432 (wins over the derived one)' },
  { name: 'timeout', kind: 'duration', default: 300_000, help: 'give up after this long' },
];

const options = parseFlags(FLAGS, process.argv.slice(2));
const nodeOptions = (options['node-options'] as string) || daemonSetNodeOptions();
const pods = options['pods'] as number;
const payloadBytes = options['payload-bytes'] as number;
const deadline = Date.now() + (options['timeout'] as number);
const OBJECT = 'blob';

const MiB = 2 ** 20;
const chartLimit = chartMemoryLimitMiB();
const budget = chartBudget();
const sandbox = await TmpfsSandbox.create('sscsi-large-');
const work = sandbox.root;
const kubeletRoot = sandbox.kubeletRoot;
const manifest = join(work, 'manifests', 'class.yaml');
const csiSocket = join(work, 'csi.sock');
const provider = await startFakeProvider({ socketPath: join(work, 'providers', 'fake.sock') });
let driver: CliProcess | undefined;
let client: CsiNodeClient | undefined;
const commands = Array.from({ length: pods }, (_, i) => publishCommand(i));

try {
  provider.rotate(OBJECT, objectContents('v2'));
  await writeClass('');
  driver = CliProcess.start(
    [
      'driver',
      '--cluster=memory',
      `--manifests=${join(work, 'manifests')}`,
      `--endpoint=unix://${csiSocket}`,
      '--nodeid=bench-node',
      `--provider-volume=${join(work, 'providers')}`,
      '--additional-provider-volume-paths=',
      `--kubelet-root=${kubeletRoot}`,
      '--metrics-addr=127.0.0.1:0',
      '--health-addr=127.0.0.1:0',
      '--enable-secret-rotation',
      '--rotation-poll-interval=1h',
      `--payload-memory-budget=${budget.bytes}`,
      ...(options['driver-flag'] as string[]),
    ],
    { ...daemonSetTuning(), NODE_OPTIONS: nodeOptions },
    bundledMain(),
  );
  await driver.waitForStderr(/driver started/, 30_000);
  client = new CsiNodeClient(csiSocket);
  const atStart = peakRssMiB(driver.pid);

  const started = performance.now();
  const retries = await Promise.all(commands.map((command) => publishLikeKubelet(client!, command)));
  const publishSeconds = (performance.now() - started) / 1000;
  for (const command of commands) await expectVersion(command, 'v2');
  const afterPublish = peakRssMiB(driver.pid);

  const rotationStarted = performance.now();
  provider.rotate(OBJECT, objectContents('v3'));
  await writeClass(`rotate-requested-at: "${Date.now()}"`);
  await waitForVersionEverywhere('v3');
  const rotationSeconds = (performance.now() - rotationStarted) / 1000;
  const afterRotation = peakRssMiB(driver.pid);

  const rejected = retries.reduce((sum, count) => sum + count, 0);
  console.log(
    `large payloads: ${pods} concurrent publishes of ${(payloadBytes / 1e6).toFixed(1)} MB (${nodeOptions}, payload memory budget ` +
      `${(budget.bytes / MiB).toFixed(1)} MiB: ${budget.derivation}): all mounted in ${publishSeconds.toFixed(1)} s after ${rejected} retried refusals; ` +
      `rotation pass over all in ${rotationSeconds.toFixed(1)} s`,
  );
  console.log(
    `driver peak RSS: ${atStart.toFixed(0)} MiB at start, ${afterPublish.toFixed(0)} MiB after the publishes, ${afterRotation.toFixed(0)} MiB after the rotation; ` +
      `chart limit ${chartLimit} MiB -> RSS ${afterRotation < chartLimit ? 'under' : 'OVER'} the limit`,
  );
  await sleep(2_000); // the writer's 1 s grace before replaced versions go
  console.log(`mounted payloads: ${(tmpfsBytes() / MiB).toFixed(0)} MiB in tmpfs (in a cluster charged to the driver container's memory as well)`);
  for (const command of commands) await client.unpublish({ volumeId: command.volumeId, targetPath: command.targetPath });
} catch (error) {
  console.error(`large payloads: ${error instanceof Error ? error.message : String(error)}\n${driver?.stderr.slice(-4000) ?? ''}`);
  process.exitCode = 1;
} finally {
  client?.close();
  await driver?.stop().catch(() => driver?.dispose());
  await provider.stop();
  await sandbox.dispose();
}

/** Contents that name their version in the first line, padded to --payload-bytes. */
function objectContents(version: string): Uint8Array {
  const bytes = new Uint8Array(payloadBytes).fill(0x61);
  const head = new TextEncoder().encode(`${OBJECT} ${version}\n`);
  bytes.set(head.subarray(0, Math.min(head.length, payloadBytes)));
  return bytes;
}

async function writeClass(annotation: string): Promise<void> {
  await mkdir(join(work, 'manifests'), { recursive: true });
  await writeFile(
    manifest,
    [
      'apiVersion: secrets-store.csi.x-k8s.io/v1',
      'kind: SecretProviderClass',
      'metadata:',
      '  name: large',
      '  namespace: default',
      ...(annotation ? ['  annotations:', `    secrets-store.csi.k8s.io/${annotation}`] : []),
      'spec:',
      '  provider: fake',
      '  parameters:',
      `    objects: "- name: ${OBJECT}"`,
      '',
    ].join('\n'),
  );
}

function publishCommand(index: number): PublishCommand {
  const uid = `large-${String(index).padStart(6, '0')}`;
  return {
    volumeId: volumeId(uid, 'secrets'),
    targetPath: join(kubeletRoot, 'pods', uid, 'volumes', 'kubernetes.io~csi', 'secrets', 'mount'),
    readonly: true,
    volumeContext: {
      secretProviderClass: 'large',
      'csi.storage.k8s.io/pod.name': `large-${index}`,
      'csi.storage.k8s.io/pod.namespace': 'default',
      'csi.storage.k8s.io/pod.uid': uid,
      'csi.storage.k8s.io/serviceAccount.name': 'default',
      'csi.storage.k8s.io/ephemeral': 'true',
    },
    secrets: {},
  };
}

/** Publishes as kubelet does: the volume directory first, then the call, retried with backoff while refused; returns the retries. */
async function publishLikeKubelet(csi: CsiNodeClient, command: PublishCommand): Promise<number> {
  await mkdir(join(command.targetPath, '..'), { recursive: true });
  for (let retries = 0, backoffMs = 500; ; retries++, backoffMs = Math.min(backoffMs * 2, 8_000)) {
    try {
      await csi.publish(command);
      return retries;
    } catch (error) {
      const retriable = error instanceof CsiCallError && (error.code === 'RESOURCE_EXHAUSTED' || error.code === 'ABORTED');
      if (!retriable || Date.now() + backoffMs > deadline) throw error;
      await sleep(backoffMs);
    }
  }
}

/** The first line of the mounted object (read without loading the whole file). */
async function mountedVersion(command: PublishCommand): Promise<string | undefined> {
  let file;
  try {
    file = await open(join(command.targetPath, OBJECT), 'r');
  } catch {
    return undefined;
  }
  try {
    const head = Buffer.alloc(64);
    const { bytesRead } = await file.read(head, 0, head.length, 0);
    return /^\S+ (\S+)\n/.exec(head.subarray(0, bytesRead).toString('utf8'))?.[1];
  } finally {
    await file.close();
  }
}

async function expectVersion(command: PublishCommand, version: string): Promise<void> {
  const mounted = await mountedVersion(command);
  if (mounted !== version) throw new Error(`${command.targetPath} holds ${mounted ?? 'nothing'}, expected ${version}`);
}

async function waitForVersionEverywhere(version: string): Promise<void> {
  for (;;) {
    const versions = await Promise.all(commands.map(mountedVersion));
    if (versions.every((mounted) => mounted === version)) return;
    if (Date.now() > deadline) throw new Error(`rotation incomplete: ${versions.filter((v) => v !== version).length} mounts not at ${version}`);
    await sleep(200);
  }
}

/** The budget the driver derives in the chart's container: its memory limit, and V8's heap limit under --node-options. */
function chartBudget(): ReturnType<typeof defaultPayloadMemoryBudget> {
  const heapLimit = execFileSync(process.execPath, ['-p', 'require("v8").getHeapStatistics().heap_size_limit'], {
    env: { ...process.env, NODE_OPTIONS: nodeOptions },
    encoding: 'utf8',
  });
  const maxAnswer = Number(/--max-call-recv-msg-size=(\d+)/.exec((options['driver-flag'] as string[]).join(' '))?.[1] ?? 4_194_304);
  return defaultPayloadMemoryBudget({ containerLimitBytes: chartLimit * MiB, heapLimitBytes: Number(heapLimit) }, maxAnswer);
}

/** Bytes in use on the targets' tmpfs mounts. */
function tmpfsBytes(): number {
  let used = 0;
  for (const command of commands) {
    const stats = statfsSync(command.targetPath);
    used += (stats.blocks - stats.bfree) * stats.bsize;
  }
  return used;
}

/** linux.driver.resources.limits.memory of the chart, in MiB. */
function chartMemoryLimitMiB(): number {
  const values = parseYaml(readFileSync(join(projectRoot(), 'deploy/charts/secrets-store-csi-driver/values.yaml'), 'utf8')) as {
    linux: { driver: { resources: { limits: { memory: string } } } };
  };
  const limit = values.linux.driver.resources.limits.memory;
  const match = /^(\d+)Mi$/.exec(limit);
  if (!match) throw new Error(`unexpected chart memory limit ${limit}`);
  return Number(match[1]);
}
