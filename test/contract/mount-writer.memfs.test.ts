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

describe('AtomicMountWriter comparing against what it swapped in (memfs)', () => {
  const target = '/target';
  let fs: FileSystem;
  let reads: string[];
  const clock = { now: () => Date.UTC(2026, 11, 1, 12, 0, 0) };

  beforeEach(async () => {
    const plain = memfsFileSystem(new Volume());
    await plain.mkdir(target, { mode: 0o750 });
    reads = [];
    fs = { ...plain, readFile: async (path) => (reads.push(path), plain.readFile(path)) };
  });

  it('does not read back a payload it swapped in itself', async () => {
    const writer = new AtomicMountWriter(fs, { clock, uniqueSuffix: counterSuffix() });
    await writer.write(target, [aFile('a', 'v1'), aFile('b/c', 'v1')]);
    expect(await writer.write(target, [aFile('a', 'v1'), aFile('b/c', 'v1')])).to.deep.equal({ changed: false });
    expect(reads).to.deep.equal([]);
  });

  it('compares in full what another writer (a restarted driver) put in place, then remembers it', async () => {
    await new AtomicMountWriter(fs, { clock, uniqueSuffix: counterSuffix() }).write(target, [aFile('a', 'v1')]);
    const restarted = new AtomicMountWriter(fs, { clock, uniqueSuffix: counterSuffix() });
    expect(await restarted.holds(target, [aFile('a', 'v1')]), 'before its first full comparison').to.equal(false);
    expect(await restarted.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: false });
    expect(reads).to.have.length(1);
    expect(await restarted.holds(target, [aFile('a', 'v1')]), 'after it').to.equal(true);
    await restarted.write(target, [aFile('a', 'v1')]);
    expect(reads).to.have.length(1);
  });

  it('swaps in a changed payload, and compares in full once ..data was moved behind its back', async () => {
    const writer = new AtomicMountWriter(fs, { clock, uniqueSuffix: counterSuffix() });
    await writer.write(target, [aFile('a', 'v1')]);
    expect(await writer.write(target, [aFile('a', 'v2')])).to.deep.equal({ changed: true });
    const current = await fs.readlink(`${target}/..data`);
    await fs.mkdir(`${target}/..2001_01_01_00_00_00.000000001`, { mode: 0o755 });
    await fs.writeFile(`${target}/..2001_01_01_00_00_00.000000001/a`, new TextEncoder().encode('v2'), 0o644);
    await fs.unlink(`${target}/..data`);
    await fs.symlink('..2001_01_01_00_00_00.000000001', `${target}/..data`);
    expect(await writer.write(target, [aFile('a', 'v2')])).to.deep.equal({ changed: false });
    expect(reads, `..data moved away from ${current}`).not.to.deep.equal([]);
  });
});
