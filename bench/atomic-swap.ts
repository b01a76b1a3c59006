/**
 * Figures for the atomic writer (no assertions): swaps per second for a 10-file payload on a real
 * tmpfs (a temp dir when this process cannot mount, and it says so), no-op writes per second, and
 * a torn-read run bigger than the one in the test suite.
 * Run after a build: `node dist/bench/atomic-swap.js [swaps] [torn-swaps] [readers]`.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SystemClock } from '../src/adapters/clock/system-clock.js';
import { AtomicMountWriter } from '../src/adapters/files/atomic-mount-writer.js';
import { blockingNodeFileSystem, nodeFileSystem, type FileSystem } from '../src/adapters/files/file-system.js';
import { RECOMMENDED_RETIREMENT_GRACE_MS, type RetirementPolicy } from '../src/adapters/files/retired-versions.js';
import { probeMountCapability } from '../src/adapters/tmpfs/can-mount.js';
import { TmpfsSandbox } from '../test/support/tmpfs-sandbox.js';
import { runTornReadStress } from '../test/support/torn-read-stress.js';
import { versionedPayload } from '../test/support/torn-payload.js';

const FILES = 10;
const WARM_UP = 300;

interface BenchPlace {
  readonly kind: string;
  readonly root: string;
  /** A fresh, empty target directory for each measurement. */
  newTarget(name: string): Promise<string>;
  dispose(): Promise<void>;
}

async function preparePlace(): Promise<BenchPlace> {
  const capability = await probeMountCapability();
  if (capability.canMount) {
    const sandbox = await TmpfsSandbox.create('atomic-swap-bench-');
    const mounter = sandbox.mounter();
    return {
      kind: 'tmpfs (size=512m)',
      root: sandbox.root,
      newTarget: async (name) => {
        const target = sandbox.targetPath(name);
        await mounter.mount(target, { capacity: { bytes: 512 * 1024 * 1024, inodes: 1 << 20 }, mode: 0o755, group: undefined });
        return target;
      },
      dispose: () => sandbox.dispose(),
    };
  }
  console.log(`cannot mount a tmpfs (${capability.reason}): measuring in a temp dir instead`);
  const root = await mkdtemp(join(tmpdir(), 'atomic-swap-bench-'));
  return {
    kind: `temp dir ${root} (NOT tmpfs)`,
    root,
    newTarget: async (name) => {
      const target = join(root, name);
      await mkdir(target);
      return target;
    },
    dispose: () => rm(root, { recursive: true, force: true }),
  };
}

/** Writes per second for `count` writes cycling through `payloads`. */
async function writesPerSecond(writer: AtomicMountWriter, target: string, payloads: readonly (readonly ReturnType<typeof versionedPayload>[number][])[], count: number): Promise<number> {
  for (let i = 0; i < WARM_UP; i++) await writer.write(target, payloads[i % payloads.length]!);
  const started = process.hrtime.bigint();
  for (let i = 0; i < count; i++) await writer.write(target, payloads[i % payloads.length]!);
  return count / (Number(process.hrtime.bigint() - started) / 1e9);
}

async function measureSwaps(place: BenchPlace, swaps: number): Promise<void> {
  const clock = new SystemClock();
  const grace: RetirementPolicy = { graceMs: RECOMMENDED_RETIREMENT_GRACE_MS, scheduler: clock };
  const variants: [string, FileSystem, RetirementPolicy | undefined][] = [
    ['blocking fs, old version removed at once (kubelet step 7)', blockingNodeFileSystem(), undefined],
    [`blocking fs, ${RECOMMENDED_RETIREMENT_GRACE_MS} ms retirement grace`, blockingNodeFileSystem(), grace],
    ['node:fs/promises, old version removed at once', nodeFileSystem(), undefined],
  ];
  const rotating = [versionedPayload(1, FILES), versionedPayload(2, FILES)];
  for (const [label, fs, retirement] of variants) {
    const writer = new AtomicMountWriter(fs, { clock, retirement });
    const target = await place.newTarget(`swap-${variants.findIndex((variant) => variant[0] === label)}`);
    const rate = await writesPerSecond(writer, target, rotating, swaps);
    console.log(`swaps/s       ${rate.toFixed(0).padStart(7)}   ${FILES}-file payload, ${label}`);
    const noOps = await writesPerSecond(writer, target, [rotating[0]!], swaps);
    console.log(`no-op writes/s${noOps.toFixed(0).padStart(7)}   same payload again, ${label}`);
  }
}

async function measureTornReads(place: BenchPlace, swaps: number, readers: number): Promise<void> {
  const clock = new SystemClock();
  const writer = new AtomicMountWriter(blockingNodeFileSystem(), { clock, retirement: { graceMs: 200, scheduler: clock } });
  const target = await place.newTarget('torn');
  const report = await runTornReadStress({ writer, target, fileCount: FILES, swaps, readers, stopFile: join(place.root, 'stop') });
  const total = (key: 'snapshots' | 'mixedSnapshots' | 'retiredSnapshots' | 'stableReads' | 'missingStable' | 'tornFiles' | 'backwards'): number =>
    report.readers.reduce((sum, reader) => sum + reader[key], 0);
  console.log(
    `torn-read run: ${swaps} swaps in ${report.seconds.toFixed(2)} s (${(swaps / report.seconds).toFixed(0)} swaps/s) ` +
      `against ${readers} reader processes, blocking fs, 200 ms retirement grace`,
  );
  console.log(`  snapshots ${total('snapshots')}, mixed ${total('mixedSnapshots')}, retired mid-read ${total('retiredSnapshots')}`);
  console.log(`  stable-name opens ${total('stableReads')}, ENOENT ${total('missingStable')}, torn ${total('tornFiles')}, backwards ${total('backwards')}`);
  const errors = report.readers.flatMap((reader) => reader.otherErrors);
  if (errors.length > 0) console.log(`  other reader errors: ${errors.join(', ')}`);
}

async function main(): Promise<void> {
  const [swaps = 5000, tornSwaps = 10000, readers = Math.max(2, availableParallelism())] = process.argv.slice(2).map(Number);
  const place = await preparePlace();
  try {
    console.log(`atomic-swap bench on ${place.kind}, node ${process.version}, ${availableParallelism()} CPUs`);
    await measureSwaps(place, swaps);
    await measureTornReads(place, tornSwaps, readers);
  } finally {
    await place.dispose();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exitCode = 1;
  });
}
