// Publish benchmark: N NodePublishVolume calls at concurrency C over a real CSI socket, against the
// fake provider with a fixed latency. Prints the driver's own overhead (call time minus provider
// latency) p50/p90/p99, calls/s and the driver's peak RSS. With --endpoint it measures any CSI driver
// already running (give its --kubelet-root and an existing --class), so drivers can be compared.
import 'reflect-metadata';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { CsiNodeClient } from '../src/adapters/fake-kubelet/csi-node-client.js';
import { volumeId } from '../src/adapters/fake-kubelet/fake-kubelet.js';
import { validateEndpoint } from '../src/app/config.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { peakRssMiB, percentile, startCli, stopProcess, waitForFile } from './bench-support.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'n', kind: 'int', default: 500, help: 'publish calls' },
  { name: 'c', kind: 'int', default: 1, help: 'concurrent calls' },
  { name: 'provider-latency', kind: 'duration', default: 5, help: 'fixed latency of the fake provider' },
  { name: 'endpoint', kind: 'string', default: '', help: 'measure the CSI driver already serving this endpoint' },
  { name: 'kubelet-root', kind: 'string', default: '', help: 'with --endpoint: that driver kubelet root' },
  { name: 'class', kind: 'string', default: 'bench', help: 'with --endpoint: an existing SecretProviderClass' },
];

const values = parseFlags(FLAGS, process.argv.slice(2));
const calls = values['n'] as number;
const concurrency = values['c'] as number;
const latencyMs = values['provider-latency'] as number;
const work = await mkdtemp(join(tmpdir(), 'sscsi-bench-'));
const ownDriver = values['endpoint'] === '';
const kubeletRoot = ownDriver ? join(work, 'kubelet') : (values['kubelet-root'] as string);
const endpoint = ownDriver ? `unix://${join(work, 'csi.sock')}` : (values['endpoint'] as string);
const children = ownDriver ? await startDriverAndProvider() : [];
const client = new CsiNodeClient(validateEndpoint(endpoint));

try {
  const targets = await prepareTargets();
  // First publishes: provider call, tmpfs mount, atomic write, pod status.
  report('publish', await publishAll(targets), ownDriver ? latencyMs : 0);
  // Republishes (kubelet's requiresRepublish tick, rotation not due): no provider call, no mount.
  report('republish', await publishAll(targets), 0);
  // Unpublishes: unmount, remove the directory, the pod status object.
  report('unpublish', await callAll(targets, (target) => client.unpublish({ volumeId: target.volumeId, targetPath: target.targetPath })), 0);
} finally {
  client.close();
  for (const child of children) await stopProcess(child);
  await rm(work, { recursive: true, force: true });
}

type Target = Awaited<ReturnType<typeof prepareTargets>>[number];

/** Publishes every target with `concurrency` calls in flight; returns each call's time and the wall time. */
function publishAll(targets: readonly Target[]): Promise<{ durations: number[]; wallMs: number }> {
  return callAll(targets, (target) => client.publish(target));
}

/** Calls `call` for every target with `concurrency` calls in flight; returns each call's time and the wall time. */
async function callAll(targets: readonly Target[], call: (target: Target) => Promise<void>): Promise<{ durations: number[]; wallMs: number }> {
  const durations: number[] = [];
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < targets.length) {
        const target = targets[next++]!;
        const t0 = performance.now();
        await call(target);
        durations.push(performance.now() - t0);
      }
    }),
  );
  return { durations, wallMs: performance.now() - started };
}

function report(kind: string, { durations, wallMs }: { durations: number[]; wallMs: number }, providerMs: number): void {
  const overhead = durations.map((d) => d - providerMs).sort((a, b) => a - b);
  const rss = peakRssMiB(children[0]?.pid);
  console.log(
    `${kind}: N=${calls} C=${concurrency} provider latency ${providerMs} ms -> driver overhead p50 ${percentile(overhead, 50).toFixed(2)} ms, ` +
      `p90 ${percentile(overhead, 90).toFixed(2)} ms, p99 ${percentile(overhead, 99).toFixed(2)} ms; ` +
      `${((calls / wallMs) * 1000).toFixed(0)} calls/s; driver peak RSS ${rss.toFixed(0)} MiB`,
  );
}

async function startDriverAndProvider() {
  const manifests = join(work, 'manifests.yaml');
  await writeFile(
    manifests,
    [
      'apiVersion: secrets-store.csi.x-k8s.io/v1',
      'kind: SecretProviderClass',
      'metadata: {name: bench, namespace: default}',
      'spec:',
      '  provider: fake',
      '  parameters:',
      '    objects: "- name: db-password\\n- name: api-key"',
    ].join('\n'),
  );
  const providers = join(work, 'providers');
  const provider = startCli(['fake-provider', `--endpoint=unix://${join(providers, 'fake.sock')}`, `--latency=${latencyMs}ms`]);
  await waitForFile(join(providers, 'fake.sock'));
  const driver = startCli([
    'driver',
    '--cluster=memory',
    `--manifests=${manifests}`,
    `--endpoint=${endpoint}`,
    '--nodeid=bench-node',
    `--provider-volume=${providers}`,
    '--additional-provider-volume-paths=',
    `--kubelet-root=${kubeletRoot}`,
    '--metrics-addr=127.0.0.1:0',
    '--health-addr=127.0.0.1:0',
  ]);
  await waitForFile(join(work, 'csi.sock'));
  return [driver, provider];
}

/** One pod per call, with the volume directory kubelet creates before it publishes. */
async function prepareTargets() {
  return Promise.all(
    Array.from({ length: calls }, async (_, i) => {
      const uid = `bench-${String(i).padStart(8, '0')}`;
      const dir = join(kubeletRoot, 'pods', uid, 'volumes', 'kubernetes.io~csi', 'secrets');
      await mkdir(dir, { recursive: true });
      return {
        volumeId: volumeId(uid, 'secrets'),
        targetPath: join(dir, 'mount'),
        readonly: true,
        volumeContext: {
          secretProviderClass: values['class'] as string,
          'csi.storage.k8s.io/pod.name': `bench-${i}`,
          'csi.storage.k8s.io/pod.namespace': 'default',
          'csi.storage.k8s.io/pod.uid': uid,
          'csi.storage.k8s.io/serviceAccount.name': 'default',
          'csi.storage.k8s.io/ephemeral': 'true',
        },
        secrets: {},
      };
    }),
  );
}
