import { spawn, type ChildProcess } from 'node:child_process';
import { rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { MountWriter } from '../../src/ports/mount-writer.js';
import type { ReaderReport } from './torn-reader.js';
import { versionedPayload } from './torn-payload.js';

export interface TornReadOptions {
  readonly writer: MountWriter;
  readonly target: string;
  readonly fileCount: number;
  readonly swaps: number;
  /** Stop rotating early after this long (a loaded machine still finishes in time). */
  readonly maxSeconds?: number;
  readonly readers: number;
  /** A path outside the target the readers poll: its creation tells them to stop and report. */
  readonly stopFile: string;
}

export interface TornReadReport {
  /** Swaps done: `swaps`, or fewer when `maxSeconds` ran out first. */
  readonly swaps: number;
  readonly seconds: number;
  readonly readers: readonly ReaderReport[];
}

const READER_SCRIPT = fileURLToPath(new URL('./torn-reader.js', import.meta.url));

/**
 * Rotates a multi-file payload `swaps` times while reader processes read it, and collects their
 * reports. The rotation starts only once every reader has completed one round, so reads and
 * swaps overlap for the whole run.
 */
export async function runTornReadStress(options: TornReadOptions): Promise<TornReadReport> {
  const { writer, target, fileCount, swaps, stopFile } = options;
  await rm(stopFile, { force: true });
  await writer.write(target, versionedPayload(0, fileCount));
  const readers = Array.from({ length: options.readers }, () => startTornReader(target, fileCount, stopFile));
  try {
    await Promise.all(readers.map((reader) => reader.ready));
    const started = process.hrtime.bigint();
    const elapsed = (): number => Number(process.hrtime.bigint() - started) / 1e9;
    let done = 0;
    while (done < swaps && elapsed() < (options.maxSeconds ?? Infinity)) {
      const { changed } = await writer.write(target, versionedPayload(++done, fileCount));
      if (!changed) throw new Error(`version ${done} was not written`);
    }
    const seconds = elapsed();
    await writeFile(stopFile, 'stop');
    return { swaps: done, seconds, readers: await Promise.all(readers.map((reader) => reader.report)) };
  } finally {
    await writeFile(stopFile, 'stop');
    for (const reader of readers) if (reader.process.exitCode === null) reader.process.kill();
  }
}

export interface RunningReader {
  readonly process: ChildProcess;
  /** Resolves once the reader has read every file once. */
  readonly ready: Promise<void>;
  /** Its report, once the stop file appeared. */
  readonly report: Promise<ReaderReport>;
}

/**
 * A reader process reading `fileCount` files of `target` in a loop until `stopFile` appears
 * (torn-reader.ts), pausing `pauseMs` between rounds.
 */
export function startTornReader(target: string, fileCount: number, stopFile: string, pauseMs = 0): RunningReader {
  const child = spawn(process.execPath, [READER_SCRIPT, target, String(fileCount), stopFile, String(pauseMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let errors = '';
  let markReady: () => void = () => undefined;
  const ready = new Promise<void>((resolve) => (markReady = resolve));
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    output += chunk;
    if (output.startsWith('ready\n')) markReady();
  });
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (errors += chunk));
  const report = new Promise<ReaderReport>((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code) => {
      const last = output.trim().split('\n').pop() ?? '';
      if (code === 0 && last.startsWith('{')) resolve(JSON.parse(last) as ReaderReport);
      else reject(new Error(`torn reader exited with ${code}: ${errors.trim() || output.trim()}`));
    });
  });
  return { process: child, ready: Promise.race([ready, report.then(() => undefined)]), report };
}
