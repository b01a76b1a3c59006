import { readFile } from 'node:fs/promises';
import { getHeapStatistics } from 'node:v8';
import { cgroupMemoryLimitFiles, parseCgroupMemoryLimit, type MemoryLimits } from '../../domain/payload-memory.js';

/**
 * This process's memory limits: the smallest limit among its cgroup's memory files (cgroup v2
 * `memory.max`, v1 `memory.limit_in_bytes`; none when no file is readable or all say unlimited) and
 * V8's heap limit (what `--max-old-space-size` makes it).
 */
export async function readMemoryLimits(procSelfCgroup = '/proc/self/cgroup', cgroupRoot = '/sys/fs/cgroup'): Promise<MemoryLimits> {
  const membership = await readFile(procSelfCgroup, 'utf8').catch(() => '');
  let containerLimitBytes: number | undefined;
  for (const file of cgroupMemoryLimitFiles(membership, cgroupRoot)) {
    const limit = parseCgroupMemoryLimit(await readFile(file, 'utf8').catch(() => ''));
    if (limit !== undefined) containerLimitBytes = Math.min(limit, containerLimitBytes ?? Infinity);
  }
  return { containerLimitBytes, heapLimitBytes: getHeapStatistics().heap_size_limit };
}
