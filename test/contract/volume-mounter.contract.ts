import { expect } from 'chai';
import type { FileSystem } from '../../src/adapters/files/file-system.js';
import { DomainError } from '../../src/domain/errors.js';
import type { VolumeMounter } from '../../src/ports/volume-mounter.js';

export interface VolumeMounterFixture {
  readonly mounter: VolumeMounter;
  /** A target path whose parent may or may not exist; the target itself does not exist yet. */
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

    beforeEach(async () => {
      fixture = await makeFixture();
      ({ mounter, target } = fixture);
    });
    afterEach(() => fixture.close());

    const exists = (path: string): Promise<boolean> => fixture.fs.lstat(path).then(() => true, () => false);

    it('reports a target that does not exist as not mounted', async () => {
      expect(await mounter.isMounted(target)).to.equal(false);
    });

    it('creates the target directory with mode 0750 when it mounts', async () => {
      await mounter.mount(target);
      expect(await mounter.isMounted(target)).to.equal(true);
      const stats = await fixture.fs.stat(target);
      expect(stats.isDirectory()).to.equal(true);
      expect(stats.mode & 0o777).to.equal(0o750);
    });

    it('keeps a healthy mount and its files when mounting again', async () => {
      await mounter.mount(target);
      await fixture.fs.writeFile(`${target}/kept`, new Uint8Array([1]), 0o644);
      await mounter.mount(target);
      expect(await mounter.isMounted(target)).to.equal(true);
      expect(await exists(`${target}/kept`)).to.equal(true);
    });

    it('removes the target directory and everything in it when it unmounts', async () => {
      await mounter.mount(target);
      await fixture.fs.mkdir(`${target}/..2026_01_01_00_00_00.000000001`, { mode: 0o755 });
      await fixture.fs.symlink('..2026_01_01_00_00_00.000000001', `${target}/..data`);
      await mounter.unmount(target);
      expect(await exists(target)).to.equal(false);
      expect(await mounter.isMounted(target)).to.equal(false);
    });

    it('unmounts a target that does not exist without complaint, twice', async () => {
      await mounter.unmount(target);
      await mounter.unmount(target);
    });

    it('refuses to mount on a target that is a symbolic link, leaving the link and its destination alone', async () => {
      const parent = target.slice(0, target.lastIndexOf('/'));
      await fixture.fs.mkdir(parent, { mode: 0o750, recursive: true });
      await fixture.fs.symlink(fixture.elsewhere, target);
      const error = await mounter.mount(target).then(() => undefined, (caught: unknown) => caught);
      expect(error).to.be.instanceOf(DomainError);
      expect((error as DomainError).code).to.equal('InvalidTargetPath');
      expect((await fixture.fs.lstat(target)).isSymbolicLink()).to.equal(true);
      expect(await fixture.fs.readdir(fixture.elsewhere)).to.deep.equal([]);
    });
  });
}
