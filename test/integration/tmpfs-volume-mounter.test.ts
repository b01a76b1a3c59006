import { expect } from 'chai';
import { mkdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { nodeFileSystem } from '../../src/adapters/files/file-system.js';
import { probeMountCapability } from '../../src/adapters/tmpfs/can-mount.js';
import { nodeMountSystem, type MountSystem } from '../../src/adapters/tmpfs/mount-system.js';
import { findMount, parseMountInfo, unescapeMountField, type MountInfoEntry } from '../support/mount-table.js';
import { TmpfsVolumeMounter, targetState } from '../../src/adapters/tmpfs/tmpfs-volume-mounter.js';
import { DomainError } from '../../src/domain/errors.js';
import { TmpfsSandbox } from '../support/tmpfs-sandbox.js';
import { volumeMounterContract } from '../contract/volume-mounter.contract.js';

const rejectionOf = (promise: Promise<unknown>): Promise<DomainError> =>
  promise.then(
    () => expect.fail('expected a rejection'),
    (caught: unknown) => {
      expect(caught).to.be.instanceOf(DomainError);
      return caught as DomainError;
    },
  );

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

  it('rejects a size limit that tmpfs would not understand', () => {
    expect(() => new TmpfsVolumeMounter({ sizeLimit: 'lots' })).to.throw(RangeError, 'invalid tmpfs size limit "lots"');
    expect(() => new TmpfsVolumeMounter({ sizeLimit: '0' })).to.throw(RangeError);
  });

  it('reports that mounting is impossible, with the reason, when the mount command fails', async () => {
    const denied: MountSystem = { ...nodeMountSystem(), run: () => Promise.reject(new Error('mount: permission denied')) };
    expect(await probeMountCapability(denied)).to.deep.equal({ canMount: false, reason: 'mount: permission denied' });
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

  volumeMounterContract('tmpfs', async () => {
    const sandbox = await newSandbox();
    await mkdir(join(sandbox.root, 'elsewhere'));
    return {
      mounter: sandbox.mounter(),
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

    beforeEach(async () => {
      sandbox = await newSandbox();
      target = sandbox.targetPath();
      mounter = sandbox.mounter({ sizeLimit: '2m' });
    });
    afterEach(() => sandbox.dispose());

    const mountsAt = async (path: string): Promise<MountInfoEntry[]> =>
      parseMountInfo(await readFile('/proc/self/mountinfo', 'utf8')).filter((entry) => entry.mountPoint === path);

    it('mounts a size-limited tmpfs with mode 0750, noexec, nosuid and nodev', async () => {
      await mounter.mount(target);
      const [entry, ...more] = await mountsAt(target);
      expect(more).to.deep.equal([]);
      expect(entry!.fsType).to.equal('tmpfs');
      expect(entry!.mountOptions).to.include.members(['noexec', 'nosuid', 'nodev']);
      expect(entry!.superOptions).to.include.members(['size=2048k', 'mode=750']);
      expect((await stat(target)).mode & 0o777).to.equal(0o750);
    });

    it('stacks nothing when mounting an already mounted target', async () => {
      await mounter.mount(target);
      await mounter.mount(target);
      expect(await mountsAt(target)).to.have.length(1);
    });

    it('finds its mount on a path that mountinfo escapes', async () => {
      const spaced = sandbox.targetPath('pod uid\twith blanks');
      await mounter.mount(spaced);
      expect(await mounter.isMounted(spaced)).to.equal(true);
      expect(await mountsAt(spaced)).to.have.length(1);
      await mounter.unmount(spaced);
      expect(await mountsAt(spaced)).to.deep.equal([]);
    });

    it('unmounts every stacked mount and removes the directory', async () => {
      await mounter.mount(target);
      await nodeMountSystem().run('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', target]);
      await mounter.unmount(target);
      expect(await mountsAt(target)).to.deep.equal([]);
      expect(await nodeFileSystem().lstat(target).then(() => true, () => false)).to.equal(false);
    });

    it('refuses a target outside the kubelet root', async () => {
      const error = await rejectionOf(mounter.mount(join(sandbox.root, 'elsewhere', 'mount')));
      expect(error.code).to.equal('InvalidTargetPath');
      expect(error.message).to.contain('outside the kubelet root');
      expect(await rejectionOf(mounter.mount(`${sandbox.kubeletRoot}/../escape/mount`))).to.have.property('code', 'InvalidTargetPath');
    });

    it('refuses a target whose parent leads outside the kubelet root through a link, creating nothing there', async () => {
      const elsewhere = join(sandbox.root, 'elsewhere');
      await mkdir(elsewhere);
      await symlink(elsewhere, join(sandbox.kubeletRoot, 'pods', 'evil'));
      const error = await rejectionOf(mounter.mount(join(sandbox.kubeletRoot, 'pods', 'evil', 'volumes', 'mount')));
      expect(error.message).to.match(/resolves to ".*elsewhere\/volumes\/mount", outside the kubelet root/);
      expect(await nodeFileSystem().readdir(elsewhere)).to.deep.equal([]);
    });

    it('replaces a corrupt mount (stat fails with ENOTCONN) with a fresh one', async () => {
      await mounter.mount(target);
      await writeFile(join(target, 'stale'), 'x');
      let failures = 1;
      const flaky: MountSystem = {
        ...nodeMountSystem(),
        stat: (path) => (path === target && failures-- > 0 ? Promise.reject(Object.assign(new Error('ENOTCONN'), { code: 'ENOTCONN' })) : stat(path)),
      };
      const recovering = new TmpfsVolumeMounter({ kubeletRoot: sandbox.kubeletRoot, sizeLimit: '2m', system: flaky });
      await recovering.mount(target);
      expect(await mountsAt(target)).to.have.length(1);
      expect(await nodeFileSystem().readdir(target)).to.deep.equal([]);
    });

    it('turns a failing mount command into an Internal error carrying its message', async () => {
      const failing: MountSystem = { ...nodeMountSystem(), run: () => Promise.reject(new Error('mount: tmpfs: permission denied')) };
      const denied = new TmpfsVolumeMounter({ kubeletRoot: sandbox.kubeletRoot, system: failing });
      const error = await rejectionOf(denied.mount(target));
      expect(error.code).to.equal('Internal');
      expect(error.message).to.equal(`mounting a tmpfs on "${target}" failed: mount: tmpfs: permission denied`);
    });
  });
});
