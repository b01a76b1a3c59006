import { execFile } from 'node:child_process';
import { lstat, mkdtemp, readdir, readFile, readlink, rmdir, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Observations } from '../../support/listed-differences.js';
import { findMount, parseMountInfo } from '../../support/mount-table.js';

const run = promisify(execFile);

/** The timestamped directory names of the kubelet layout (`..2026_12_01_23_28_41.3730504754`). */
const VERSION_DIR = /\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d+/g;

/**
 * The mounted tree at a target: whether it exists, its mount (file system, options), the root's mode and owner,
 * every entry below it (type, mode, contents or link target, versioned directory names normalised), and whether
 * an unprivileged user (uid/gid 65534, as a `runAsUser` container) can read each file through a bind mount of
 * the target, as a container sees it.
 */
export async function recordTree(observations: Observations, aspect: string, target: string): Promise<void> {
  const root = await lstat(target).catch(() => undefined);
  observations.record(`${aspect}: target`, root === undefined ? 'absent' : root.isDirectory() ? 'directory' : 'not a directory');
  const mount = findMount(parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')), target);
  observations.record(
    `${aspect}: mount`,
    mount === undefined ? 'none' : `${mount.fsType} ${mount.mountOptions.join(',')} ${mount.superOptions.join(',')}`,
  );
  if (root === undefined || !root.isDirectory()) return;
  observations.record(`${aspect}: root`, `${mode(root.mode)} ${root.uid}:${root.gid}`);
  for (const entry of await walk(target)) {
    const stats = await lstat(join(target, entry));
    const name = entry.replace(VERSION_DIR, '..<version>');
    if (stats.isSymbolicLink()) observations.record(`${aspect}: ${name}`, `symlink -> ${(await readlink(join(target, entry))).replace(VERSION_DIR, '..<version>')}`);
    else if (stats.isDirectory()) observations.record(`${aspect}: ${name}`, `directory ${mode(stats.mode)} ${stats.uid}:${stats.gid}`);
    else {
      observations.record(`${aspect}: ${name}`, `file ${mode(stats.mode)} ${stats.uid}:${stats.gid} ${JSON.stringify(await readFile(join(target, entry), 'utf8'))}`);
    }
  }
  if (mount !== undefined) observations.record(`${aspect}: unreadable as uid 65534`, (await unreadableAsNobody(target, await walk(target, true))).join(', ') || 'none');
}

/**
 * Paths below `dir`, depth first. Every entry as it is on disk, or (`visible`) only the files a container sees:
 * the layout's `..` entries at the top left out and links followed.
 */
async function walk(dir: string, visible = false, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  for (const name of (await readdir(join(dir, prefix))).sort()) {
    if (visible && prefix === '' && name.startsWith('..')) continue;
    const relative = prefix === '' ? name : `${prefix}/${name}`;
    const isDirectory = (await (visible ? stat : lstat)(join(dir, relative))).isDirectory();
    if (!visible || !isDirectory) out.push(relative);
    if (isDirectory) out.push(...(await walk(dir, visible, relative)));
  }
  return out;
}

function mode(value: number): string {
  return (value & 0o7777).toString(8).padStart(4, '0');
}

/** The files (paths through the target's top-level links) that uid/gid 65534 cannot read through a bind mount of the target. */
async function unreadableAsNobody(target: string, files: readonly string[]): Promise<string[]> {
  const view = await mkdtemp(join(tmpdir(), 'sscsi-view-'));
  try {
    await run('mount', ['--bind', '-o', 'ro', target, view]);
    try {
      const unreadable: string[] = [];
      for (const file of files) {
        const read = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', 'cat', join(view, file)]).then(
          () => true,
          () => false,
        );
        if (!read) unreadable.push(file);
      }
      return unreadable;
    } finally {
      await run('umount', [view]);
    }
  } finally {
    await rmdir(view);
  }
}

/** One metric family of a Prometheus text exposition: its type, label names (without `le`) and histogram buckets. */
export interface MetricFamily {
  readonly type: string;
  readonly labels: readonly string[];
  readonly buckets: readonly string[];
  readonly samples: number;
}

/** Parses the Prometheus text format into families keyed by name (samples of histograms fold into their family). */
export function metricFamilies(text: string): Map<string, MetricFamily> {
  const types = new Map<string, string>();
  const labels = new Map<string, Set<string>>();
  const buckets = new Map<string, Set<string>>();
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    const typeLine = /^# TYPE (\S+) (\S+)/.exec(line);
    if (typeLine) {
      types.set(typeLine[1]!, typeLine[2]!);
      continue;
    }
    if (line.startsWith('#') || line.trim() === '') continue;
    const sample = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s/.exec(line);
    if (!sample) continue;
    const family = familyOf(sample[1]!, types);
    samples.set(family, (samples.get(family) ?? 0) + 1);
    for (const [, name, value] of (sample[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      if (name === 'le') {
        if (!buckets.has(family)) buckets.set(family, new Set());
        buckets.get(family)!.add(value!);
      } else {
        if (!labels.has(family)) labels.set(family, new Set());
        labels.get(family)!.add(name!);
      }
    }
  }
  const families = new Map<string, MetricFamily>();
  for (const [name, type] of types) {
    families.set(name, {
      type,
      labels: [...(labels.get(name) ?? [])].sort(),
      buckets: [...(buckets.get(name) ?? [])].sort((a, b) => Number(a) - Number(b)),
      samples: samples.get(name) ?? 0,
    });
  }
  return families;
}

function familyOf(sampleName: string, types: ReadonlyMap<string, string>): string {
  if (types.has(sampleName)) return sampleName;
  for (const suffix of ['_bucket', '_sum', '_count', '_total', '_created']) {
    const base = sampleName.endsWith(suffix) ? sampleName.slice(0, -suffix.length) : undefined;
    if (base !== undefined && types.has(base)) return base;
  }
  return sampleName;
}
