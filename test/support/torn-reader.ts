/**
 * A reader process for the torn-read stress test (run as `node torn-reader.js <target> <fileCount>
 * <stopFile> [<pauseMs>]`, compiled from this file). It reads the way applications read a secret volume,
 * with synchronous calls in a tight loop (pausing `pauseMs` between rounds, so that a long run leaves
 * the processes under test their share of the CPU), until the stop file appears, then prints one JSON
 * report line.
 *
 * Two kinds of reads per round:
 * - snapshot: resolve `<target>/..data` once, then read every file inside that version directory.
 *   All files must carry the same version: a version directory is complete before `..data` names it
 *   and never changes afterwards. ENOENT here is legitimate (the writer removed a version that was
 *   current a moment ago) and is counted as a retired snapshot, not a failure.
 * - stable names: open each `<target>/<name>` (one path resolution per file). Each must exist and
 *   hold one whole version (never torn, never empty), and a file's version never goes backwards.
 *   Different files read one after another may legitimately carry different versions.
 */
import { existsSync, readFileSync, readlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { fileNameAt, parseVersion } from './torn-payload.js';

export interface ReaderReport {
  readonly snapshots: number;
  readonly retiredSnapshots: number;
  readonly mixedSnapshots: number;
  readonly stableReads: number;
  readonly missingStable: number;
  readonly tornFiles: number;
  readonly backwards: number;
  readonly versionsSeen: number;
  readonly otherErrors: readonly string[];
}

const READY_LINE = 'ready';

function readUntilStopped(target: string, fileCount: number, stopFile: string, pauseMs: number): ReaderReport {
  const pause = new Int32Array(new SharedArrayBuffer(4));
  const names = Array.from({ length: fileCount }, (_, index) => fileNameAt(index));
  const counts = { snapshots: 0, retiredSnapshots: 0, mixedSnapshots: 0, stableReads: 0, missingStable: 0, tornFiles: 0, backwards: 0 };
  const lastSeen = new Map<string, number>();
  const seen = new Set<number>();
  const otherErrors: string[] = [];
  const note = (error: unknown): void => {
    if (otherErrors.length < 10) otherErrors.push(String((error as { code?: unknown }).code ?? error));
  };
  let announced = false;
  while (!existsSync(stopFile)) {
    try {
      const versionDir = readlinkSync(`${target}/..data`);
      const versions = names.map((name) => parseVersion(readFileSync(`${target}/${versionDir}/${name}`), name));
      if (versions.includes(undefined)) counts.tornFiles++;
      if (new Set(versions).size > 1) counts.mixedSnapshots++;
      counts.snapshots++;
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ENOENT') counts.retiredSnapshots++;
      else note(error);
    }
    for (const name of names) {
      try {
        const version = parseVersion(readFileSync(`${target}/${name}`), name);
        counts.stableReads++;
        if (version === undefined) {
          counts.tornFiles++;
          continue;
        }
        if (version < (lastSeen.get(name) ?? -1)) counts.backwards++;
        lastSeen.set(name, version);
        seen.add(version);
      } catch (error) {
        if ((error as { code?: unknown }).code === 'ENOENT') counts.missingStable++;
        else note(error);
      }
    }
    if (!announced) {
      process.stdout.write(`${READY_LINE}\n`);
      announced = true;
    }
    if (pauseMs > 0) Atomics.wait(pause, 0, 0, pauseMs);
  }
  return { ...counts, versionsSeen: seen.size, otherErrors };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [target, fileCount, stopFile, pauseMs] = process.argv.slice(2);
  const report = readUntilStopped(target!, Number(fileCount), stopFile!, Number(pauseMs ?? 0));
  process.stdout.write(`${JSON.stringify(report)}\n`);
}
