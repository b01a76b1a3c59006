import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDuration } from '../../domain/duration.js';
import type { CliIo } from '../cli-io.js';
import { absolutePath, between, positive, verbosity } from '../flag-checks.js';
import { parseFlags, usage, type FlagDefinition } from '../flags.js';
import { DRIVER_LOG, runSimulation } from '../simulation/simulation.js';

export const SIMULATE_FLAGS: readonly FlagDefinition[] = [
  { name: 'pods', kind: 'int', default: 3, check: between(1, 500, 'a number of pods'), help: 'pods the fake kubelet starts (all but the last share a class with a synced Secret)' },
  { name: 'interval', kind: 'duration', default: 2_000, check: positive('a duration'), help: 'rotation poll interval of the driver (--rotation-poll-interval)' },
  { name: 'rotate-every', kind: 'duration', default: 4_000, check: positive('a duration'), help: 'how often a secret changes in the external store' },
  {
    name: 'duration',
    kind: 'string',
    default: 'auto',
    check: (value) => (runDuration(String(value)) === undefined ? 'auto, 0 or a duration such as 30s or 2m' : undefined),
    help: 'how long the scenario runs: a duration such as 30s, 0 until Ctrl-C, or auto (20s, longer when --pods needs it to show every step)',
  },
  {
    name: 'kubelet-root',
    kind: 'string',
    default: '',
    check: (value) => (value === '' ? undefined : absolutePath(value)),
    shownDefault: 'a new temporary directory, removed at the end',
    help: 'kubelet root for the mounts',
  },
  { name: 'v', kind: 'int', default: 0, check: verbosity, help: 'driver log verbosity (the driver log goes to a file named at start)' },
  { name: 'keep', kind: 'bool', default: false, help: 'keep the driver log after a successful run too (it is always kept after a failure)' },
  { name: 'help', kind: 'bool', default: false, help: 'print this help and exit' },
];

const SUMMARY = `Runs the driver locally against a fake kubelet, an in-memory cluster and a fake provider, over
real unix sockets, changes secrets in the fake external store and shows each rotation reaching the
mounted files and the synced Kubernetes Secret.`;

/** `secrets-store-csi simulate` (what `npm start` runs). Exit 0 when rotations were seen end to end. */
export async function runSimulateCommand(args: readonly string[], io: CliIo): Promise<number> {
  const values = parseFlags(SIMULATE_FLAGS, args, io.env);
  if (values['help']) {
    io.out(`${usage('simulate', SUMMARY, SIMULATE_FLAGS)}\n`);
    return 0;
  }
  const pods = values['pods'] as number;
  const intervalMs = values['interval'] as number;
  const rotateEveryMs = values['rotate-every'] as number;
  const durationMs = runDuration(values['duration'] as string)!;
  // A short directory name keeps the socket paths well under the 107-byte limit.
  const workDir = await mkdtemp(join(tmpdir(), 'sscsi-'));
  let failed = true;
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
    failed = summary.failures > 0;
    return failed ? 1 : 0;
  } finally {
    if (failed || values['keep']) {
      await removeAllBut(workDir, DRIVER_LOG);
      io.err(`driver log kept: ${join(workDir, DRIVER_LOG)}\n`);
    } else {
      await rm(workDir, { recursive: true, force: true });
    }
  }
}

/** `--duration`: `auto`, or a duration of 0 or more in milliseconds; undefined for anything else. */
function runDuration(value: string): number | 'auto' | undefined {
  if (value === 'auto') return 'auto';
  try {
    const durationMs = parseDuration(value);
    return durationMs >= 0 ? durationMs : undefined;
  } catch {
    return undefined;
  }
}

/** Empties `dir` except for `keep` (sockets, mount directories and the like go). */
async function removeAllBut(dir: string, keep: string): Promise<void> {
  const entries = await readdir(dir).catch(() => []);
  await Promise.all(entries.filter((name) => name !== keep).map((name) => rm(join(dir, name), { recursive: true, force: true })));
}
