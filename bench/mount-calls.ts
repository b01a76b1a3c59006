// Mount-call benchmark: N mount + unmount pairs of a 16 MiB tmpfs, through mount(2)/umount2(2) (koffi) and
// through mount(8)/umount(8) from the driver's long-lived shell (the fallback). Needs root. Prints p50/p90.
import { mkdtemp, rmdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { commandCalls, loadSystemCalls, type MountCalls } from '../src/adapters/tmpfs/mount-calls.js';
import { parseFlags, type FlagDefinition } from '../src/app/flags.js';
import { percentile } from './bench-support.js';

const FLAGS: readonly FlagDefinition[] = [{ name: 'n', kind: 'int', default: 200, help: 'mount + unmount pairs per way' }];
const pairs = parseFlags(FLAGS, process.argv.slice(2))['n'] as number;
const dir = await mkdtemp(join(tmpdir(), 'mount-calls-bench-'));
const rssBefore = process.memoryUsage().rss;
const direct = await loadSystemCalls();
const rssAfter = process.memoryUsage().rss;
if (direct === undefined) console.log('mount(2) through koffi: unavailable here');
else console.log(`loading koffi and libc: +${((rssAfter - rssBefore) / 1024 / 1024).toFixed(1)} MiB RSS`);
try {
  for (const calls of [direct, commandCalls()].filter((one): one is MountCalls => one !== undefined)) {
    const times: number[] = [];
    for (let i = 0; i < pairs; i++) {
      const started = performance.now();
      await calls.mount(dir, 'size=16777216,nr_inodes=4096,mode=0755');
      await calls.unmount(dir, false);
      times.push(performance.now() - started);
    }
    times.sort((a, b) => a - b);
    console.log(`${calls.via}: ${pairs} mount + unmount pairs -> p50 ${percentile(times, 50).toFixed(3)} ms, p90 ${percentile(times, 90).toFixed(3)} ms`);
  }
} finally {
  await rmdir(dir);
}
