// Provider call benchmark: the client's CPU per unary Mount call (process.cpuUsage() of this process over
// `--calls` calls, one at a time and `--concurrency` at once) against the fake provider of this build (grpc-js)
// and the grpc-go provider of the tests (`--go-peer`). The codec's share (one
// request encoded and one answer decoded) is measured alone, so the transport's share is the rest.
// `--channel` runs another build's unary-channel.js for a before/after.
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { MOUNT_METHOD, type MountRequest } from '../src/adapters/provider-grpc/provider-messages.js';
import type { UnaryChannel as UnaryChannelClass } from '../src/adapters/provider-grpc/unary-channel.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { goProviderBinary, startGoProvider } from '../test/support/go-provider.js';
import { cpuSeconds, startCli, stopProcess, waitForFile } from './bench-support.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'calls', kind: 'int', default: 5000, help: 'Mount calls per measured run' },
  { name: 'concurrency', kind: 'int', default: 20, help: 'calls in flight in the concurrent run' },
  { name: 'rounds', kind: 'int', default: 3, help: 'measured runs per peer and concurrency (the median is printed with the range)' },
  { name: 'go-peer', kind: 'string', default: goProviderBinary(), help: 'a Go gRPC provider binary, started as `<binary> <socket path>` (default: the grpc-go provider test/control-plane/build-secrets-store-csi-driver.sh builds; skipped when missing)' },
  { name: 'channel', kind: 'string', default: '', help: "another build's unary-channel.js (default: this build's)" },
];
const WARM_UP_CALLS = 1000;

const values = parseFlags(FLAGS, process.argv.slice(2));
const calls = values['calls'] as number;
const concurrency = values['concurrency'] as number;
const rounds = values['rounds'] as number;
const goPeer = values['go-peer'] as string;
const channelModule = (values['channel'] as string) || new URL('../src/adapters/provider-grpc/unary-channel.js', import.meta.url).href;
const { UnaryChannel } = (await import(channelModule.startsWith('file:') ? channelModule : pathToFileURL(resolve(channelModule)).href)) as { UnaryChannel: typeof UnaryChannelClass };

/** A rotation check's request: a class with two objects, pod info, and the versions mounted now. */
const REQUEST: MountRequest = {
  attributes: JSON.stringify({
    objects: 'secret1,secret2',
    files: '2', // the grpc-go provider's answer: two files of 64 bytes
    size: '64',
    'csi.storage.k8s.io/pod.name': 'app-0',
    'csi.storage.k8s.io/pod.namespace': 'default',
    'csi.storage.k8s.io/pod.uid': '0f6a2b4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b',
    'csi.storage.k8s.io/serviceAccount.name': 'default',
    secretProviderClass: 'app-secrets',
  }),
  secrets: '{}',
  targetPath: '/var/lib/kubelet/pods/0f6a2b4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b/volumes/kubernetes.io~csi/secrets/mount',
  permission: '420',
  currentObjectVersion: [
    { id: 'secret1', version: '1' },
    { id: 'secret2', version: '1' },
  ],
};

interface Peer {
  readonly name: string;
  readonly process: ChildProcess;
  readonly socketPath: string;
}

async function runCalls(channel: UnaryChannelClass, count: number, inFlight: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next++ < count) await channel.call(MOUNT_METHOD, REQUEST, new Date(Date.now() + 30_000));
  };
  await Promise.all(Array.from({ length: inFlight }, worker));
}

/** Client CPU microseconds per call, and the peer's (from /proc, 10 ms ticks). */
async function measure(channel: UnaryChannelClass, peer: Peer, inFlight: number): Promise<{ client: number; peer: number }> {
  const peerBefore = cpuSeconds(peer.process.pid!);
  const before = process.cpuUsage();
  await runCalls(channel, calls, inFlight);
  const used = process.cpuUsage(before);
  return { client: (used.user + used.system) / calls, peer: ((cpuSeconds(peer.process.pid!) - peerBefore) * 1e6) / calls };
}

/** CPU microseconds per request encoded and answer decoded, the codec alone. */
async function codecShare(channel: UnaryChannelClass): Promise<number> {
  const answer = await channel.call(MOUNT_METHOD, REQUEST, new Date(Date.now() + 30_000));
  const encodedAnswer = MOUNT_METHOD.response.encode(answer, 0);
  const repeats = calls * 4;
  const before = process.cpuUsage();
  for (let i = 0; i < repeats; i++) {
    MOUNT_METHOD.request.encode(REQUEST, 5);
    MOUNT_METHOD.response.decode(encodedAnswer);
  }
  const used = process.cpuUsage(before);
  return (used.user + used.system) / repeats;
}

function summary(figures: number[]): string {
  const sorted = [...figures].sort((a, b) => a - b);
  return `${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} (${sorted[0]!.toFixed(1)}-${sorted[sorted.length - 1]!.toFixed(1)})`;
}

const work = await mkdtemp(join(tmpdir(), 'provider-call-bench-'));
const peers: Peer[] = [];
try {
  const fakeSocket = join(work, 'fake.sock');
  peers.push({ name: 'fake provider (grpc-js)', process: startCli(['fake-provider', '--endpoint', `unix://${fakeSocket}`]), socketPath: fakeSocket });
  if (existsSync(goPeer)) {
    const goSocket = join(work, 'go.sock');
    peers.push({ name: 'grpc-go provider', process: startGoProvider(goPeer, goSocket), socketPath: goSocket });
  } else {
    console.log(`no grpc-go provider at ${goPeer}: build it with test/control-plane/build-secrets-store-csi-driver.sh`);
  }
  console.log(`client: ${channelModule}`);
  console.log(`${calls} Mount calls per run, ${rounds} runs; CPU us per call, median (range)`);
  for (const peer of peers) {
    await waitForFile(peer.socketPath);
    const channel = new UnaryChannel({ socketPath: peer.socketPath, maxReceiveMessageSize: 4 * 1024 * 1024, userAgent: 'secrets-store-csi/bench' });
    try {
      await runCalls(channel, WARM_UP_CALLS, concurrency);
      const codec: number[] = [];
      for (const inFlight of [1, concurrency]) {
        const client: number[] = [];
        const server: number[] = [];
        for (let round = 0; round < rounds; round++) {
          const figures = await measure(channel, peer, inFlight);
          client.push(figures.client);
          server.push(figures.peer);
        }
        console.log(`${peer.name}, C=${inFlight}: client ${summary(client)} us/call; peer ${summary(server)} us/call`);
      }
      for (let round = 0; round < rounds; round++) codec.push(await codecShare(channel));
      console.log(`${peer.name}: codec alone (encode + decode) ${summary(codec)} us/call`);
    } finally {
      channel.close();
    }
  }
} finally {
  for (const peer of peers) await stopProcess(peer.process);
  await rm(work, { recursive: true, force: true });
}
