import { expect } from 'chai';
import type { FileSystem } from '../../src/adapters/files/file-system.js';
import { parseTargetPath, targetDirectories, type TargetPath } from '../../src/domain/target-path.js';
import type { VolumeMounter } from '../../src/ports/volume-mounter.js';
import { aVolumeSettings } from '../support/builders.js';
import { rejectionOf } from '../support/driver-assertions.js';

export interface VolumeMounterFixture {
  readonly mounter: VolumeMounter;
  /** The kubelet root the target lies under; it exists. */
  readonly kubeletRoot: string;
  /** A kubelet-shaped target path whose parents may or may not exist; the target itself does not exist yet. */
  readonly target: string;
  /** A directory that exists outside the target, to point links at. */
  readonly elsewhere: string;
  /** The file system the target lives on, for inspection. */
  readonly fs: FileSystem;
  close(): Promise<void>;
}

/** The VolumeMounter port contract. */
export function volumeMounterContract(name: string, makeFixture: () => Promise<VolumeMounterFixture>): void {
  describe(`VolumeMounter contract (${name})`, () => {
    let fixture: VolumeMounterFixture;
    let mounter: VolumeMounter;
    let target: string;
    let parsed: TargetPath;

    beforeEach(async () => {
      fixture = await makeFixture();
      ({ mounter, target } = fixture);
      parsed = parseTargetPath(target, fixture.kubeletRoot);
    });
    afterEach(() => fixture.close());

    const exists = (path: string): Promise<boolean> => fixture.fs.lstat(path).then(() => true, () => false);
    it('reports a target that does not exist as not mounted, with no group', async () => {
      expect(await mounter.isMounted(target)).to.equal(false);
      expect(await mounter.mountGroup(target)).to.equal(undefined);
    });

    it("creates the target directory with the settings' mode (upstream's 0755 without a group) when it mounts", async () => {
      await mounter.mount(target, aVolumeSettings());
      expect(await mounter.isMounted(target)).to.equal(true);
      const stats = await fixture.fs.stat(target);
      expect(stats.isDirectory()).to.equal(true);
      expect(stats.mode & 0o777).to.equal(0o755);
      expect(stats.gid).to.equal(0);
      expect(await mounter.mountGroup(target)).to.equal(undefined);
    });

    it('gives the root of a volume with a group to that group, with its mode', async () => {
      await mounter.mount(target, aVolumeSettings({ mode: 0o750, group: 2000 }));
      const stats = await fixture.fs.stat(target);
      expect(stats.mode & 0o777).to.equal(0o750);
      expect(stats.gid).to.equal(2000);
      expect(await mounter.mountGroup(target)).to.equal(2000);
    });

    it("fits a mounted volume's root to new settings", async () => {
      await mounter.mount(target, aVolumeSettings());
      await mounter.fit(target, aVolumeSettings({ mode: 0o750, group: 3000 }));
      const stats = await fixture.fs.stat(target);
      expect([stats.mode & 0o777, stats.gid]).to.deep.equal([0o750, 3000]);
    });

    it('keeps a healthy mount and its files when mounting again', async () => {
      await mounter.mount(target, aVolumeSettings());
      await fixture.fs.writeFile(`${target}/kept`, new Uint8Array([1]), 0o644);
      await mounter.mount(target, aVolumeSettings());
      expect(await mounter.isMounted(target)).to.equal(true);
      expect(await exists(`${target}/kept`)).to.equal(true);
    });

    it('removes the target directory after unmounting when nothing is left in it', async () => {
      await mounter.mount(target, aVolumeSettings());
      await mounter.unmount(target);
      expect(await mounter.removeTarget(target)).to.deep.equal({ kind: 'removed' });
      expect(await exists(target)).to.equal(false);
      expect(await mounter.isMounted(target)).to.equal(false);
    });

    it('leaves a target directory that holds files the driver did not write, and says how many', async () => {
      await fixture.fs.mkdir(target, { mode: 0o755, recursive: true });
      await fixture.fs.writeFile(`${target}/someone-elses`, new Uint8Array([7]), 0o600);
      await mounter.unmount(target);
      expect(await mounter.removeTarget(target)).to.deep.equal({ kind: 'kept', entries: 1 });
      expect(await fixture.fs.readFile(`${target}/someone-elses`)).to.deep.equal(new Uint8Array([7]));
    });

    it('unmounts and removes a target that does not exist without complaint, twice', async () => {
      await mounter.unmount(target);
      await mounter.unmount(target);
      expect(await mounter.removeTarget(target)).to.deep.equal({ kind: 'missing' });
    });

    it('refuses to mount on a target that is a symbolic link, leaving the link and its destination alone', async () => {
      const parent = target.slice(0, target.lastIndexOf('/'));
      await fixture.fs.mkdir(parent, { mode: 0o750, recursive: true });
      await fixture.fs.symlink(fixture.elsewhere, target);
      const error = await rejectionOf(mounter.mount(target, aVolumeSettings()));
      expect(error.code).to.equal('InvalidTargetPath');
      expect((await fixture.fs.lstat(target)).isSymbolicLink()).to.equal(true);
      expect(await fixture.fs.readdir(fixture.elsewhere)).to.deep.equal([]);
    });

    it('accepts a target whose directories are real or not made yet', async () => {
      await mounter.checkTarget(parsed);
      await fixture.fs.mkdir(target, { mode: 0o755, recursive: true });
      await mounter.checkTarget(parsed);
    });

    const levels = ['pods', '<pod-uid>', 'volumes', 'kubernetes.io~csi', '<volume>', 'mount'];
    levels.forEach((level, index) => {
      it(`refuses a target whose "${level}" directory is a symbolic link, naming it`, async () => {
        const linked = targetDirectories(parsed)[index]!;
        await fixture.fs.mkdir(linked.slice(0, linked.lastIndexOf('/')), { mode: 0o755, recursive: true });
        await fixture.fs.removeTree(linked);
        await fixture.fs.symlink(fixture.elsewhere, linked);
        const error = await rejectionOf(mounter.checkTarget(parsed));
        expect(error.code).to.equal('InvalidTargetPath');
        expect(error.message).to.equal(
          `refusing target path "${target}": "${linked}" is a symbolic link, which kubelet never makes below its root`,
        );
        expect(await fixture.fs.readdir(fixture.elsewhere)).to.deep.equal([]);
      });
    });

    it('refuses a target one of whose directories is a file', async () => {
      const volumeDir = targetDirectories(parsed)[4]!;
      await fixture.fs.mkdir(volumeDir.slice(0, volumeDir.lastIndexOf('/')), { mode: 0o755, recursive: true });
      await fixture.fs.writeFile(volumeDir, new Uint8Array([1]), 0o644);
      const error = await rejectionOf(mounter.checkTarget(parsed));
      expect(error.message).to.equal(`refusing target path "${target}": "${volumeDir}" is not a directory`);
    });
  });
}
