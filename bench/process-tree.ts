import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** A process and what it runs now: its live descendants (a long-lived helper shell, a mount(8) in flight). */
export function processTree(root: number): number[] {
  const tree = [root];
  for (let i = 0; i < tree.length; i++) {
    for (const task of safeList(`/proc/${tree[i]}/task`)) {
      const children = safeRead(`/proc/${tree[i]}/task/${task}/children`).trim();
      if (children !== '') tree.push(...children.split(/\s+/).map(Number));
    }
  }
  return tree;
}

/**
 * CPU seconds the process tree has used: user + system time of each live process plus that of the
 * children each has reaped (a finished mount(8) counts where its parent waited for it).
 */
export function treeCpuSeconds(root: number): number {
  let ticks = 0;
  for (const pid of processTree(root)) {
    const fields = statFields(pid);
    if (fields === undefined) continue;
    // Fields after "(comm) ": state is [0]; utime, stime, cutime, cstime are fields 14-17 of stat, i.e. [11..14].
    ticks += Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  }
  return ticks / TICKS_PER_SECOND;
}

/** Resident memory of the process tree in MiB (VmRSS summed). */
export function treeRssMiB(root: number): number {
  let kib = 0;
  for (const pid of processTree(root)) kib += statusKiB(pid, 'VmRSS') ?? 0;
  return kib / 1024;
}

function statusKiB(pid: number, field: string): number | undefined {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(safeRead(`/proc/${pid}/status`));
  return match ? Number(match[1]) : undefined;
}

function statFields(pid: number): string[] | undefined {
  const stat = safeRead(`/proc/${pid}/stat`);
  const end = stat.lastIndexOf(') ');
  return end < 0 ? undefined : stat.slice(end + 2).split(' ');
}

function safeRead(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function safeList(path: string): string[] {
  try {
    return readdirSync(path);
  } catch {
    return [];
  }
}
