import { expect } from 'chai';
import { Volume } from 'memfs';
import { ManualClock } from '../../src/adapters/clock/manual-clock.js';
import { AtomicMountWriter } from '../../src/adapters/files/atomic-mount-writer.js';
import { memfsFileSystem, type FileSystem } from '../../src/adapters/files/file-system.js';
import { aFile } from '../support/builders.js';
import { FaultyFileSystem } from '../support/faulty-file-system.js';
import { eventually } from './eventually.js';
import { mountWriterContract } from './mount-writer.contract.js';

/** A counter, so version dir names are deterministic under a fixed clock. */
function counterSuffix(): () => string {
  let next = 0;
  return () => String(++next).padStart(9, '0');
}

describe('AtomicMountWriter on memfs', () => {
  mountWriterContract('memfs', async () => {
    const volume = new Volume();
    const fs = memfsFileSystem(volume);
    await fs.mkdir('/kubelet/pods/uid-1/volumes/kubernetes.io~csi/secrets/mount', { mode: 0o750, recursive: true });
    await fs.mkdir('/elsewhere', { mode: 0o755 });
    const faults = new FaultyFileSystem(fs);
    const clock = { now: () => Date.UTC(2026, 10, 27, 18, 30, 0) };
    return {
      writer: new AtomicMountWriter(faults, { clock, uniqueSuffix: counterSuffix() }),
      target: '/kubelet/pods/uid-1/volumes/kubernetes.io~csi/secrets/mount',
      outside: '/elsewhere',
      fs,
      faults,
      honoursUmask: false,
      close: async () => undefined,
    };
  });
});

describe('AtomicMountWriter retirement grace (memfs, manual clock)', () => {
  const target = '/target';
  const graceMs = 1000;
  let fs: FileSystem;
  let clock: ManualClock;
  let writer: AtomicMountWriter;

  beforeEach(async () => {
    fs = memfsFileSystem(new Volume());
    await fs.mkdir(target, { mode: 0o750 });
    clock = new ManualClock();
    writer = new AtomicMountWriter(fs, { clock, uniqueSuffix: counterSuffix(), retirement: { graceMs, scheduler: clock } });
  });

  const hiddenDirs = async (): Promise<string[]> =>
    (await fs.readdir(target)).map((entry) => entry.name).filter((name) => name.startsWith('..') && name !== '..data').sort();

  it('keeps a replaced version readable for the grace period, then removes it', async () => {
    await writer.write(target, [aFile('a', 'v1')]);
    const [first] = await hiddenDirs();
    await writer.write(target, [aFile('a', 'v2')]);
    const second = await fs.readlink(`${target}/..data`);
    expect(await hiddenDirs()).to.deep.equal([first, second].sort());
    expect(new TextDecoder().decode(await fs.readFile(`${target}/${first}/a`))).to.equal('v1');
    clock.advance(graceMs);
    await eventually(async () => expect(await hiddenDirs()).to.deep.equal([second]));
  });

  it('leaves versions in their grace period alone when later writes sweep orphans', async () => {
    await writer.write(target, [aFile('a', 'v1')]);
    await writer.write(target, [aFile('a', 'v2')]);
    clock.advance(graceMs / 2);
    await writer.write(target, [aFile('a', 'v3')]);
    expect(await hiddenDirs()).to.have.length(3);
    await writer.write(target, [aFile('a', 'v3')]);
    expect(await hiddenDirs()).to.have.length(3);
  });

  it('sweeps a retired version whose grace has passed even when its timer never fires (a restarted writer)', async () => {
    await writer.write(target, [aFile('a', 'v1')]);
    await writer.write(target, [aFile('a', 'v2')]);
    const restarted = new AtomicMountWriter(fs, { clock: new ManualClock(), uniqueSuffix: () => '999999999' });
    expect(await restarted.write(target, [aFile('a', 'v2')])).to.deep.equal({ changed: false });
    expect(await hiddenDirs()).to.deep.equal([await fs.readlink(`${target}/..data`)]);
  });

  it('clears versions in their grace period too', async () => {
    await writer.write(target, [aFile('a', 'v1')]);
    await writer.write(target, [aFile('a', 'v2')]);
    await writer.clear(target);
    expect(await fs.readdir(target)).to.deep.equal([]);
    clock.advance(graceMs);
  });
});
