import { expect } from 'chai';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { AtomicMountWriter } from '../../src/adapters/files/atomic-mount-writer.js';
import { blockingNodeFileSystem, nodeFileSystem } from '../../src/adapters/files/file-system.js';
import { ManualClock } from '../../src/adapters/clock/manual-clock.js';
import { SystemClock } from '../../src/adapters/clock/system-clock.js';
import { probeMountCapability } from '../../src/adapters/tmpfs/can-mount.js';
import { DomainError } from '../../src/domain/errors.js';
import { aFile, aVolumeSettings } from '../support/builders.js';
import { FaultyFileSystem } from '../support/faulty-file-system.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { mountWriterContract } from '../contract/mount-writer.contract.js';

describe('AtomicMountWriter on a real tmpfs', () => {
  const sandboxes: TmpfsSandbox[] = [];
  const newSandbox = async (): Promise<TmpfsSandbox> => {
    const sandbox = await TmpfsSandbox.create('tmpfs-writer-');
    sandboxes.push(sandbox);
    return sandbox;
  };

  before(async function () {
    const capability = await probeMountCapability();
    if (!capability.canMount) {
      console.warn(`    skipping the tmpfs writer tests: this process cannot mount a tmpfs (${capability.reason})`);
      this.skip();
    }
  });
  after(async () => {
    await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.dispose()));
  });

  mountWriterContract('tmpfs', async () => {
    const sandbox = await newSandbox();
    const target = sandbox.targetPath();
    await sandbox.mounter().mount(target, aVolumeSettings());
    const outside = join(sandbox.root, 'outside');
    await mkdir(outside);
    const fs = blockingNodeFileSystem();
    const faults = new FaultyFileSystem(fs);
    return {
      writer: new AtomicMountWriter(faults, { clock: new SystemClock() }),
      target,
      outside,
      fs,
      faults,
      honoursUmask: true,
      close: () => sandbox.dispose(),
    };
  });

  describe('a payload larger than the tmpfs size limit', () => {
    let sandbox: TmpfsSandbox;
    let target: string;
    let writer: AtomicMountWriter;

    beforeEach(async () => {
      sandbox = await newSandbox();
      target = sandbox.targetPath();
      await sandbox.mounter().mount(target, aVolumeSettings({ capacity: { bytes: 1024 * 1024, inodes: 64 } }));
      writer = new AtomicMountWriter(nodeFileSystem(), { clock: new SystemClock() });
    });
    afterEach(() => sandbox.dispose());

    it('is refused with a precise error, keeping the previous version and leaving no partial dir', async () => {
      await writer.write(target, [aFile('small', 'v1')]);
      const version = await nodeFileSystem().readlink(`${target}/..data`);
      const huge = { path: 'huge', mode: 0o644, contents: new Uint8Array(2 * 1024 * 1024).fill(65) };
      const error = await writer.write(target, [aFile('small', 'v2'), huge]).then(
        () => undefined,
        (caught: unknown) => caught,
      );
      expect(error).to.be.instanceOf(DomainError);
      expect((error as DomainError).code).to.equal('VolumeFull');
      expect((error as DomainError).message).to.match(
        /^no space left in ".*" \(ENOSPC\): payload 2 MiB in 2 files needs 4 MiB and 12 inodes during a swap; the volume has 1 MiB \([0-9.]+ KiB free\) and 64 inodes \(\d+ free\)$/,
      );
      expect(await writer.read(target)).to.deep.equal([aFile('small', 'v1')]);
      const entries = (await nodeFileSystem().readdir(target)).map((entry) => entry.name).sort();
      expect(entries).to.deep.equal(['..data', version, 'small'].sort());
    });

    it('gives up retired versions still in their grace period when the new version needs the space', async () => {
      const clock = new ManualClock();
      const graceful = new AtomicMountWriter(blockingNodeFileSystem(), { clock, retirement: { graceMs: 60_000, scheduler: clock } });
      const version = (fill: number) => [{ path: 'big', mode: 0o644, contents: new Uint8Array(400 * 1024).fill(fill) }];
      const dataDir = (): Promise<string> => nodeFileSystem().readlink(`${target}/..data`);
      await graceful.write(target, version(1));
      await graceful.write(target, version(2));
      const second = await dataDir();
      expect(await graceful.write(target, version(3))).to.deep.equal({ changed: true });
      expect((await graceful.read(target))[0]!.contents[0]).to.equal(3);
      const hidden = (await nodeFileSystem().readdir(target)).map((entry) => entry.name).filter((name) => name !== '..data' && name.startsWith('..'));
      expect(hidden.sort(), 'the first version made room; the second stays for its grace').to.deep.equal([second, await dataDir()].sort());
    });
  });
});
