// CSI server benchmark: a process that serves only the CSI socket (NodeVolumes answering at once), its RSS
// at rest after three Probe calls and a full GC, then the server's CPU and the p50 per NodePublishVolume at
// C=1 and C=`--concurrency`, the calls made by a child process over raw HTTP/2 as kubelet makes them.
// `--server` runs another build's server (its dist/src/adapters/csi-grpc/csi-server.js) for a before/after.
import { fork } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:http2';
import { connect as connectSocket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { NODE_PUBLISH_VOLUME_REQUEST } from '../src/adapters/csi-grpc/csi-messages.js';
import type { startCsiServer as StartCsiServer } from '../src/adapters/csi-grpc/csi-server.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { percentile } from './bench-support.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'calls', kind: 'int', default: 3000, help: 'NodePublishVolume calls per concurrency' },
  { name: 'concurrency', kind: 'int', default: 20, help: 'calls in flight in the second run' },
  { name: 'server', kind: 'string', default: '', help: "another build's csi-server.js (default: this build's)" },
];
const WARM_UP_CALLS = 200;

/** A publish as kubelet sends it for an inline volume with pod info. */
function publishFrame(): Buffer {
  const podUid = '0f6a2b4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b';
  const message = NODE_PUBLISH_VOLUME_REQUEST.encode(
    {
      volumeId: 'csi-0123456789abcdef',
      publishContext: {},
      stagingTargetPath: '',
      targetPath: `/var/lib/kubelet/pods/${podUid}/volumes/kubernetes.io~csi/secrets/mount`,
      volumeCapability: { block: null, mount: { fsType: '', mountFlags: [], volumeMountGroup: '' }, accessMode: { mode: 'SINGLE_NODE_WRITER' } },
      readonly: true,
      secrets: {},
      volumeContext: {
        secretProviderClass: 'app-secrets',
        'csi.storage.k8s.io/pod.name': 'app-0',
        'csi.storage.k8s.io/pod.namespace': 'default',
        'csi.storage.k8s.io/pod.uid': podUid,
        'csi.storage.k8s.io/serviceAccount.name': 'default',
        'csi.storage.k8s.io/ephemeral': 'true',
      },
    },
    5,
  );
  message.writeUInt32BE(message.length - 5, 1);
  return message;
}

async function runClient(socketPath: string, calls: number, concurrency: number): Promise<void> {
  const session = connect('http://localhost', { createConnection: () => connectSocket(socketPath) });
  const frame = publishFrame();
  const call = (path: string, body: Buffer): Promise<void> =>
    new Promise((resolve) => {
      const stream = session.request({ ':method': 'POST', ':path': path, 'content-type': 'application/grpc', te: 'trailers', 'grpc-timeout': '119999m' });
      stream.on('data', () => undefined);
      stream.on('close', resolve);
      stream.end(body);
    });
  const send = (message: unknown): void => void process.send!(message);
  for (let i = 0; i < 3; i++) await call('/csi.v1.Identity/Probe', Buffer.alloc(5));
  send('probed');
  for (const inFlight of [1, concurrency]) {
    await new Promise((resolve) => process.once('message', resolve));
    for (let i = 0; i < WARM_UP_CALLS; i++) await call('/csi.v1.Node/NodePublishVolume', frame);
    send('warm');
    await new Promise((resolve) => process.once('message', resolve));
    const latencies: number[] = [];
    let started = 0;
    await Promise.all(
      Array.from({ length: inFlight }, async () => {
        while (started++ < calls) {
          const start = performance.now();
          await call('/csi.v1.Node/NodePublishVolume', frame);
          latencies.push(performance.now() - start);
        }
      }),
    );
    latencies.sort((a, b) => a - b);
    send({ p50: percentile(latencies, 50) });
  }
  session.close();
}

async function runServer(): Promise<void> {
  const flags = parseFlags(FLAGS, process.argv.slice(2));
  const serverModule = (flags['server'] as string) || fileURLToPath(new URL('../src/adapters/csi-grpc/csi-server.js', import.meta.url));
  const { startCsiServer } = (await import(serverModule)) as { startCsiServer: typeof StartCsiServer };
  const dir = await mkdtemp(join(tmpdir(), 'csi-server-bench-'));
  const socketPath = join(dir, 'csi.sock');
  const quiet = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };
  const server = await startCsiServer({
    endpoint: `unix://${socketPath}`,
    driverName: 'secrets-store.csi.k8s.io',
    version: 'bench',
    nodeId: 'bench-node',
    volumes: { publish: async () => undefined, unpublish: async () => undefined },
    logger: quiet,
  });
  const calls = flags['calls'] as number;
  const concurrency = flags['concurrency'] as number;
  const client = fork(fileURLToPath(import.meta.url), ['--client', socketPath, String(calls), String(concurrency)]);
  const next = (): Promise<unknown> => new Promise((resolve) => client.once('message', resolve));
  try {
    await next();
    setFlagsFromString('--expose-gc');
    (runInNewContext('gc') as () => void)();
    const rssMiB = Number(/VmRSS:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))![1]) / 1024;
    console.log(`serving, after 3 Probe calls and a full GC: RSS ${rssMiB.toFixed(1)} MiB, heap used ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(1)} MiB`);
    for (const inFlight of [1, concurrency]) {
      client.send('warm up');
      await next();
      const cpuStart = process.cpuUsage();
      client.send('go');
      const { p50 } = (await next()) as { p50: number };
      const cpu = process.cpuUsage(cpuStart);
      console.log(`NodePublishVolume C=${inFlight}: server CPU ${((cpu.user + cpu.system) / calls).toFixed(0)} us per call, p50 ${p50.toFixed(3)} ms (${calls} calls)`);
    }
  } finally {
    client.kill();
    await server.stop(1000);
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--client') await runClient(process.argv[3]!, Number(process.argv[4]), Number(process.argv[5]));
else await runServer();
