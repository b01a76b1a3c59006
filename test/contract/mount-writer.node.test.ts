import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AtomicMountWriter } from '../../src/adapters/files/atomic-mount-writer.js';
import { nodeFileSystem } from '../../src/adapters/files/file-system.js';
import { SystemClock } from '../../src/adapters/clock/system-clock.js';
import { FaultyFileSystem } from '../support/faulty-file-system.js';
import { mountWriterContract } from './mount-writer.contract.js';

describe('AtomicMountWriter on the real file system (temp dir)', () => {
  mountWriterContract('node:fs temp dir', async () => {
    const root = await mkdtemp(join(tmpdir(), 'mount-writer-'));
    const target = join(root, 'target');
    const outside = join(root, 'outside');
    await mkdir(target, { mode: 0o750 });
    await mkdir(outside);
    const fs = nodeFileSystem();
    const faults = new FaultyFileSystem(fs);
    return {
      writer: new AtomicMountWriter(faults, { clock: new SystemClock() }),
      target,
      outside,
      fs,
      faults,
      honoursUmask: true,
      close: () => rm(root, { recursive: true, force: true }),
    };
  });
});
