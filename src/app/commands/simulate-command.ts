import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CliIo } from '../cli-io.js';
import { formatDuration } from '../../domain/duration.js';
import { parseFlags, usage, UsageError, type FlagDefinition } from '../flags.js';
import { runSimulation } from '../simulation/simulation.js';

const FLAGS: readonly FlagDefinition[] = [
  { name: 'pods', kind: 'int', default: 3, help: 'pods the fake kubelet starts (all but the last share a class with a synced Secret)' },
  { name: 'interval', kind: 'duration', default: 2_000, help: 'rotation poll interval of the driver (--rotation-poll-interval)' },
  { name: 'rotate-every', kind: 'duration', default: 4_000, help: 'how often a secret changes in the external store' },
  { name: 'duration', kind: 'duration', default: 20_000, help: 'how long the scenario runs; 0 runs until Ctrl-C' },
  { name: 'kubelet-root', kind: 'string', default: '', help: 'kubelet root for the mounts (default: a new temporary directory, removed at the end)' },
  { name: 'v', kind: 'int', default: 0, help: 'driver log verbosity (the driver log goes to a file named at start)' },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
];

const SUMMARY = `Runs the driver locally against a fake kubelet, an in-memory cluster and a fake provider, over
real unix sockets, changes secrets in the fake external store and shows each rotation reaching the
mounted files and the synced Kubernetes Secret.`;

/** `secrets-store-csi simulate` (what `npm start` runs). Exit 0 when rotations were seen end to end. */
export async function runSimulateCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags(FLAGS, args, io.env);
  if (values['help']) {
    io.out(`${usage('simulate', SUMMARY, FLAGS)}\n`);
    return 0;
  }
  const pods = values['pods'] as number;
  if (pods < 1 || pods > 500) throw new UsageError(`invalid value "${pods}" for flag "--pods": expected 1 to 500`);
  const intervalMs = values['interval'] as number;
  const rotateEveryMs = values['rotate-every'] as number;
  if (intervalMs <= 0) throw new UsageError('flag "--interval" must be greater than zero');
  if (rotateEveryMs <= 0) throw new UsageError('flag "--rotate-every" must be greater than zero');
  const durationMs = values['duration'] as number;
  if (durationMs < 0) throw new UsageError('flag "--duration" must not be negative');
  // A short directory name keeps the socket paths well under the 107-byte limit.
  const workDir = await mkdtemp(join(tmpdir(), 'sscsi-'));
  try {
    const summary = await runSimulation(
      {
        pods,
        intervalMs,
        rotateEveryMs,
        durationMs,
        workDir,
        kubeletRoot: (values['kubelet-root'] as string) || join(workDir, 'kubelet'),
        verbosity: values['v'] as number,
      },
      { write: (line) => io.out(`${line}\n`), stopRequested: io.stopRequested },
    );
    const seenEndToEnd = summary.mountRotations > 0 && summary.secretUpdates > 0;
    if (summary.failures > 0) return 1;
    if (durationMs > 0 && !seenEndToEnd) {
      io.err(`no rotation reached both the files and the Secret within ${formatDuration(durationMs)}; try a longer --duration\n`);
      return 1;
    }
    return 0;
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}
