import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeFileSystem } from '../../src/adapters/files/file-system.js';
import { probeMountCapability } from '../../src/adapters/tmpfs/can-mount.js';
import { commandCalls, loadSystemCalls, type MountCalls } from '../../src/adapters/tmpfs/mount-calls.js';
import { nodeMountSystem, type MountSystem } from '../../src/adapters/tmpfs/mount-system.js';
import { findMount, parseMountInfo, unescapeMountField, type MountInfoEntry } from '../support/mount-table.js';
import { TmpfsVolumeMounter, targetState, tmpfsOptions } from '../../src/adapters/tmpfs/tmpfs-volume-mounter.js';
import { DomainError } from '../../src/domain/errors.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { eventually } from '../contract/eventually.js';
import { volumeMounterContract } from '../contract/volume-mounter.contract.js';
import { aVolumeSettings } from '../support/builders.js';
import { rejectionOf } from '../support/driver-assertions.js';

describe('tmpfs mount table and decisions', () => {
  it('parses mountinfo lines, optional fields and octal escapes included', () => {
    const text = [
      '36 35 98:0 /mnt1 /mnt/with\\040space\\134x rw,noatime master:1 shared:2 - ext3 /dev/root rw,errors=continue',
      '42 27 0:39 / /var/lib/kubelet/pods/u/mount rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw,size=16384k,mode=750',
      'garbage line',
    ].join('\n');
    const entries = parseMountInfo(text);
    expect(entries).to.have.length(2);
    expect(entries[0]).to.deep.include({ mountId: 36, parentId: 35, mountPoint: '/mnt/with space\\x', fsType: 'ext3', source: '/dev/root' });
    expect(entries[1]!.mountOptions).to.include.members(['nosuid', 'nodev', 'noexec']);
    expect(entries[1]!.superOptions).to.include.members(['size=16384k', 'mode=750']);
  });

  it('unescapes tab, newline and backslash', () => {
    expect(unescapeMountField('a\\011b\\012c\\134d')).to.equal('a\tb\nc\\d');
  });

  it('finds the last mount stacked on a path', () => {
    const entries = parseMountInfo('1 0 0:1 / /a rw - tmpfs first rw\n2 1 0:2 / /a rw - tmpfs second rw\n');
    expect(findMount(entries, '/a')!.source).to.equal('second');
    expect(findMount(entries, '/b')).to.equal(undefined);
  });

  it('decides the state of a target from the mount table and stat', () => {
    expect(targetState({ mountPoint: false, statError: 'ENOENT' })).to.equal('missing');
    expect(targetState({ mountPoint: false, isDirectory: true })).to.equal('directory');
    expect(targetState({ mountPoint: true, isDirectory: true })).to.equal('mounted');
    expect(targetState({ mountPoint: false, isDirectory: false })).to.equal('not-a-directory');
    for (const statError of ['ENOTCONN', 'EIO', 'ESTALE']) expect(targetState({ mountPoint: false, statError })).to.equal('corrupt');
    expect(() => targetState({ mountPoint: false, statError: 'EACCES' })).to.throw(DomainError, 'EACCES');
  });

  it('reports that mounting is impossible, with the reason, when the mount call fails', async () => {
    const denied: MountCalls = { ...commandCalls(), mount: () => Promise.reject(new Error('mount: permission denied')) };
    expect(await probeMountCapability(denied)).to.deep.equal({ canMount: false, reason: 'mount: permission denied' });
  });

  it('spells tmpfs options from the settings: size and inodes, root mode in octal, the group only when there is one', () => {
    const capacity = { bytes: 16 * 1024 * 1024, inodes: 4096 };
    expect(tmpfsOptions({ capacity, mode: 0o755, group: undefined })).to.equal('size=16777216,nr_inodes=4096,mode=0755');
    expect(tmpfsOptions({ capacity, mode: 0o750, group: 2000 })).to.equal('size=16777216,nr_inodes=4096,mode=0750,gid=2000');
  });
});

describe('TmpfsVolumeMounter on the real system', () => {
  const sandboxes: TmpfsSandbox[] = [];
  const newSandbox = async (): Promise<TmpfsSandbox> => {
    const sandbox = await TmpfsSandbox.create('tmpfs-mounter-');
    sandboxes.push(sandbox);
    return sandbox;
  };

  before(async function () {
    const capability = await probeMountCapability();
    if (!capability.canMount) {
      console.warn(`    skipping the tmpfs mounter tests: this process cannot mount a tmpfs (${capability.reason})`);
      this.skip();
    }
  });
  after(async () => {
    await Promise.all(sandboxes.splice(0).map((sandbox) => sandbox.dispose()));
  });

  it('probes with mount(8) from a shell that ends with the probe', async () => {
    const children = (): string[] => readFileSync(`/proc/self/task/${process.pid}/children`, 'utf8').split(' ').filter(Boolean);
    const before = children();
    expect(await probeMountCapability()).to.deep.equal({ canMount: true, reason: 'mounted and unmounted a probe tmpfs with mount(8)' });
    // A child an earlier test left may end meanwhile: only a child that was not there before counts.
    await eventually(() => expect(children().filter((pid) => !before.includes(pid))).to.deep.equal([]));
  });

  volumeMounterContract('tmpfs', async () => {
    const sandbox = await newSandbox();
    await mkdir(join(sandbox.root, 'elsewhere'));
    return {
      mounter: sandbox.mounter(),
      kubeletRoot: sandbox.kubeletRoot,
      target: sandbox.targetPath(),
      elsewhere: join(sandbox.root, 'elsewhere'),
      fs: nodeFileSystem(),
      close: () => sandbox.dispose(),
    };
  });

  describe('tmpfs specifics', () => {
    let sandbox: TmpfsSandbox;
    let target: string;
    let mounter: TmpfsVolumeMounter;
    const MIB = 1024 * 1024;
    const small = aVolumeSettings({ capacity: { bytes: 2 * MIB, inodes: 100 } });

    beforeEach(async () => {
      sandbox = await newSandbox();
      target = sandbox.targetPath();
      mounter = sandbox.mounter();
    });
    afterEach(() => sandbox.dispose());

    const mountsAt = async (path: string): Promise<MountInfoEntry[]> =>
      parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((entry) => entry.mountPoint === path);

    it('mounts a tmpfs of the given size and inodes with the root mode, noexec, nosuid and nodev', async () => {
      await mounter.mount(target, small);
      const [entry, ...more] = await mountsAt(target);
      expect(more).to.deep.equal([]);
      expect(entry!.fsType).to.equal('tmpfs');
      expect(entry!.mountOptions).to.include.members(['noexec', 'nosuid', 'nodev']);
      expect(entry!.superOptions).to.include.members(['size=2048k', 'nr_inodes=100', 'mode=755']);
      expect((await stat(target)).mode & 0o777).to.equal(0o755);
    });

    it('grows a mounted volume to a larger capacity, keeps its files and options, and never shrinks it', async () => {
      await mounter.mount(target, small);
      await writeFile(join(target, 'kept'), 'x');
      await mounter.fit(target, aVolumeSettings({ capacity: { bytes: 20 * MIB, inodes: 50_000 } }));
      const [entry] = await mountsAt(target);
      expect(entry!.superOptions).to.include.members(['size=20480k', 'nr_inodes=50000']);
      expect(entry!.mountOptions).to.include.members(['noexec', 'nosuid', 'nodev']);
      expect(await readFile(join(target, 'kept'), 'utf8')).to.equal('x');
      await mounter.fit(target, small);
      expect((await mountsAt(target))[0]!.superOptions).to.include.members(['size=20480k', 'nr_inodes=50000']);
    });

    it('refuses to fit a target where nothing is mounted: secrets never go to the node disk', async () => {
      await mkdir(target, { recursive: true });
      const error = await rejectionOf(mounter.fit(target, small));
      expect(error.message).to.equal(`no tmpfs is mounted on "${target}": refusing to write secrets to the node's disk`);
    });

    it('stacks nothing when mounting an already mounted target', async () => {
      await mounter.mount(target, small);
      await mounter.mount(target, small);
      expect(await mountsAt(target)).to.have.length(1);
    });

    it('unmounts every stacked mount, leaving the empty directory to removeTarget', async () => {
      await mounter.mount(target, small);
      await commandCalls().mount(target, 'size=1m');
      await mounter.unmount(target);
      expect(await mountsAt(target)).to.deep.equal([]);
      expect(await mounter.removeTarget(target)).to.deep.equal({ kind: 'removed' });
      expect(await nodeFileSystem().lstat(target).then(() => true, () => false)).to.equal(false);
    });

    it('mounts and unmounts with mount(2) directly where koffi loads, and with mount(8) otherwise alike', async () => {
      const direct = await loadSystemCalls();
      expect(direct?.via, 'koffi ships a prebuilt binary for this platform').to.equal('mount(2)');
      for (const calls of [direct!, commandCalls()]) {
        const system = nodeMountSystem(async () => calls);
        const viaCalls = new TmpfsVolumeMounter({ kubeletRoot: sandbox.kubeletRoot, system });
        await viaCalls.mount(target, small);
        expect(await mountsAt(target), calls.via).to.have.length(1);
        await viaCalls.fit(target, aVolumeSettings({ capacity: { bytes: 4 * MIB, inodes: 200 } }));
        expect((await mountsAt(target))[0]!.superOptions, calls.via).to.include.members(['size=4096k', 'nr_inodes=200']);
        await viaCalls.unmount(target);
        expect(await mountsAt(target), calls.via).to.deep.equal([]);
      }
    });

    it('names the errno when mount(2) fails', async () => {
      const direct = await loadSystemCalls();
      const error = await direct!.mount(join(sandbox.root, 'missing', 'dir'), 'size=1m').then(
        () => expect.fail('expected a rejection'),
        (caught: unknown) => caught as Error,
      );
      expect(error.message).to.equal(`mount(2) of a tmpfs on "${join(sandbox.root, 'missing', 'dir')}": ENOENT`);
    });

    it('finds its mount on a path that mountinfo escapes', async () => {
      const spaced = sandbox.targetPath('pod uid\twith blanks');
      await mounter.mount(spaced, small);
      expect(await mounter.isMounted(spaced)).to.equal(true);
      expect(await mountsAt(spaced)).to.have.length(1);
      await mounter.unmount(spaced);
      expect(await mountsAt(spaced)).to.deep.equal([]);
    });

    it('refuses a target outside the kubelet root', async () => {
      const error = await rejectionOf(mounter.mount(join(sandbox.root, 'elsewhere', 'mount'), small));
      expect(error.code).to.equal('InvalidTargetPath');
      expect(error.message).to.contain('outside the kubelet root');
      expect(await rejectionOf(mounter.mount(`${sandbox.kubeletRoot}/../escape/mount`, small))).to.have.property('code', 'InvalidTargetPath');
    });

    it('replaces a corrupt mount (stat fails with ENOTCONN) with a fresh one', async () => {
      await mounter.mount(target, small);
      await writeFile(join(target, 'stale'), 'x');
      let failures = 1;
      const flaky: MountSystem = {
        ...nodeMountSystem(),
        stat: (path) => (path === target && failures-- > 0 ? Promise.reject(Object.assign(new Error('ENOTCONN'), { code: 'ENOTCONN' })) : stat(path)),
      };
      const recovering = new TmpfsVolumeMounter({ kubeletRoot: sandbox.kubeletRoot, system: flaky });
      await recovering.mount(target, small);
      expect(await mountsAt(target)).to.have.length(1);
      expect(await nodeFileSystem().readdir(target)).to.deep.equal([]);
    });

    it('turns a failing mount into an Internal error carrying its reason', async () => {
      const failing: MountSystem = { ...nodeMountSystem(), mount: () => Promise.reject(new Error('mount: tmpfs: permission denied')) };
      const denied = new TmpfsVolumeMounter({ kubeletRoot: sandbox.kubeletRoot, system: failing });
      const error = await rejectionOf(denied.mount(target, small));
      expect(error.code).to.equal('Internal');
      expect(error.message).to.equal(`mounting a tmpfs on "${target}" failed: mount: tmpfs: permission denied`);
    });
  });
});
