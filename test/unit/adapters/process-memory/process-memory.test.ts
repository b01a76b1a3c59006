import { expect } from 'chai';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getHeapStatistics } from 'node:v8';
import { readMemoryLimits } from '../../../../src/adapters/process-memory/memory-limits.js';
import { V8MemoryReclaimer } from '../../../../src/adapters/process-memory/v8-memory-reclaimer.js';
import { eventually } from '../../../contract/eventually.js';

describe('adapters/process-memory', () => {
  describe('readMemoryLimits', () => {
    let root: string;
    beforeEach(async () => {
      root = await mkdtemp(join(tmpdir(), 'cgroup-'));
    });
    afterEach(() => rm(root, { recursive: true, force: true }));

    async function file(path: string, text: string): Promise<string> {
      await mkdir(join(root, path, '..'), { recursive: true });
      await writeFile(join(root, path), text);
      return join(root, path);
    }

    it("reads the process's cgroup v2 memory.max and V8's heap limit", async () => {
      const cgroup = await file('proc-self-cgroup', '0::/kubepods/pod1/driver\n');
      await file('sys/kubepods/pod1/driver/memory.max', '268435456\n');
      await file('sys/memory.max', 'max\n');

      const limits = await readMemoryLimits(cgroup, join(root, 'sys'));

      expect(limits).to.deep.equal({ containerLimitBytes: 268_435_456, heapLimitBytes: getHeapStatistics().heap_size_limit });
    });

    it('takes the smallest of the limits it finds (cgroup v1 here)', async () => {
      const cgroup = await file('proc-self-cgroup', '4:memory:/docker/abc\n');
      await file('sys/memory/docker/abc/memory.limit_in_bytes', '536870912\n');
      await file('sys/memory/memory.limit_in_bytes', '268435456\n');

      expect((await readMemoryLimits(cgroup, join(root, 'sys'))).containerLimitBytes).to.equal(268_435_456);
    });

    it('finds no container limit where the files are missing or unlimited', async () => {
      const cgroup = await file('proc-self-cgroup', '4:memory:/\n');
      await file('sys/memory/memory.limit_in_bytes', '9223372036854771712\n');

      expect((await readMemoryLimits(cgroup, join(root, 'sys'))).containerLimitBytes).to.equal(undefined);
      expect((await readMemoryLimits(join(root, 'missing'), join(root, 'none'))).containerLimitBytes).to.equal(undefined);
    });
  });

  describe('V8MemoryReclaimer', () => {
    it('returns the memory of unreferenced buffers (V8 frees them while sweeping, right after the collection)', async () => {
      const reclaimer = new V8MemoryReclaimer();
      expect(reclaimer.available).to.equal(true);
      let buffers: Buffer[] | undefined = Array.from({ length: 8 }, () => Buffer.alloc(4 * 1024 * 1024, 1));
      const whileHeld = process.memoryUsage().arrayBuffers;
      buffers = undefined;

      reclaimer.reclaim();

      expect(buffers).to.equal(undefined);
      await eventually(() => expect(process.memoryUsage().arrayBuffers).to.be.at.most(whileHeld - 30 * 1024 * 1024), 2_000);
    });
  });
});
