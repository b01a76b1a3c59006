import { expect } from 'chai';
import { aFile } from '../support/builders.js';
import { bytes, type MountWriterSpec } from './mount-writer-spec.js';

/** Targets left behind by a crash or an older writer. */
export function repairSpecs(spec: MountWriterSpec): void {
  const { names, hiddenDirs, versionDir, text } = spec;
  describe('repairing a target left behind by a crash or an older writer', () => {
    it('removes a stale ..data_tmp when it writes a new version', async () => {
      const { writer, target, fs } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      await fs.symlink('..2001_01_01_00_00_00.000000000', `${target}/..data_tmp`);
      await writer.write(target, [aFile('a', 'v2')]);
      expect(await hiddenDirs()).to.deep.equal([await versionDir()]);
    });

    it('removes a stale ..data_tmp even when the payload is unchanged, without counting a change', async () => {
      const { writer, target, fs } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      await fs.symlink(await versionDir(), `${target}/..data_tmp`);
      expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: false });
      expect(await hiddenDirs()).to.deep.equal([await versionDir()]);
    });

    it('removes orphan hidden dirs that ..data does not name', async () => {
      const { writer, target, fs } = spec;
      await fs.mkdir(`${target}/..2001_01_01_00_00_00.000000001`, { mode: 0o755 });
      await fs.writeFile(`${target}/..2001_01_01_00_00_00.000000001/old`, bytes(1), 0o644);
      await writer.write(target, [aFile('a', 'v1')]);
      expect(await hiddenDirs()).to.deep.equal([await versionDir()]);
    });

    it('re-creates a missing user-visible link and reports no change', async () => {
      const { writer, target, fs } = spec;
      await writer.write(target, [aFile('a', 'v1'), aFile('b', 'v1')]);
      await fs.unlink(`${target}/a`);
      expect(await writer.write(target, [aFile('a', 'v1'), aFile('b', 'v1')])).to.deep.equal({ changed: false });
      expect(await fs.readlink(`${target}/a`)).to.equal('..data/a');
      expect(await text('a')).to.equal('v1');
    });

    it('replaces a legacy plain file and a legacy directory at payload names', async () => {
      const { writer, target, fs } = spec;
      await fs.writeFile(`${target}/token`, new TextEncoder().encode('legacy'), 0o644);
      await fs.mkdir(`${target}/certs`, { mode: 0o755 });
      await fs.writeFile(`${target}/certs/old.pem`, bytes(1), 0o644);
      expect(await writer.write(target, [aFile('token', 'new'), aFile('certs/tls.crt', 'CRT')])).to.deep.equal({ changed: true });
      expect(await fs.readlink(`${target}/token`)).to.equal('..data/token');
      expect(await fs.readlink(`${target}/certs`)).to.equal('..data/certs');
      expect(await writer.read(target)).to.deep.equal([aFile('certs/tls.crt', 'CRT'), aFile('token', 'new')]);
    });

    it('replaces a legacy file hiding a name even when ..data already holds the payload', async () => {
      const { writer, target, fs } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      await fs.unlink(`${target}/a`);
      await fs.writeFile(`${target}/a`, new TextEncoder().encode('legacy'), 0o644);
      expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: true });
      expect(await text('a')).to.equal('v1');
      expect(await fs.readlink(`${target}/a`)).to.equal('..data/a');
    });

    it('replaces a link at a payload name that points elsewhere inside the target', async () => {
      const { writer, target, fs } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      const version = await versionDir();
      await fs.unlink(`${target}/a`);
      await fs.symlink(`${version}/a`, `${target}/a`);
      expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: true });
      expect(await fs.readlink(`${target}/a`)).to.equal('..data/a');
      expect(await text('a')).to.equal('v1');
    });

    it('leaves entries that are neither its own nor in the payload alone', async () => {
      const { writer, target, fs } = spec;
      await fs.writeFile(`${target}/unrelated`, bytes(7), 0o644);
      await writer.write(target, [aFile('a', 'v1')]);
      await writer.write(target, [aFile('b', 'v2')]);
      expect(await names()).to.include('unrelated');
      expect((await writer.read(target)).map((file) => file.path)).to.deep.equal(['b', 'unrelated']);
    });
  });
}

/** A failed write changes nothing readers can see. */
export function failureSpecs(spec: MountWriterSpec): void {
  const { names, versionDir, rejection } = spec;
  describe('failures', () => {
    it('keeps the previous version and removes its partial dir when writing a file fails', async () => {
      const { writer, target, fixture } = spec;
      await writer.write(target, [aFile('a', 'v1'), aFile('b', 'v1')]);
      const version = await versionDir();
      fixture.faults.failAfter('writeFile', 1, 'EIO');
      const error = await rejection(writer.write(target, [aFile('a', 'v2'), aFile('b', 'v2'), aFile('c', 'v2')]));
      expect(error.code).to.equal('Internal');
      expect(error.message).to.contain('EIO');
      expect(await writer.read(target)).to.deep.equal([aFile('a', 'v1'), aFile('b', 'v1')]);
      expect(await names()).to.deep.equal(['..data', version, 'a', 'b'].sort());
    });

    it('keeps the previous version and removes the links it added when the swap fails', async () => {
      const { writer, target, fixture } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      const version = await versionDir();
      fixture.faults.failAfter('rename', 0, 'EIO');
      await rejection(writer.write(target, [aFile('a', 'v2'), aFile('new', 'v2')]));
      expect(await names()).to.deep.equal(['..data', version, 'a'].sort());
      expect(await writer.read(target)).to.deep.equal([aFile('a', 'v1')]);
    });

    it('says the payload does not fit when the volume is full', async () => {
      const { writer, target, fixture } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      fixture.faults.failAfter('writeFile', 0, 'ENOSPC');
      const error = await rejection(writer.write(target, [aFile('a', 'v2-longer')]));
      expect(error.code).to.equal('VolumeFull');
      expect(error.message).to.match(/^no space left in ".*" \(ENOSPC\): payload 9 B in 1 file needs 12 KiB and 9 inodes during a swap/);
      expect(error.message).to.not.contain('v2-longer');
      expect(await writer.read(target)).to.deep.equal([aFile('a', 'v1')]);
    });

    it('rejects an invalid payload path before touching the target', async () => {
      const { writer, target } = spec;
      const error = await rejection(writer.write(target, [aFile('../escape', 'x')]));
      expect(error.code).to.equal('InvalidPayloadPath');
      expect(await names()).to.deep.equal([]);
    });
  });
}

/** Nothing is ever written outside the target. */
export function refusalSpecs(spec: MountWriterSpec): void {
  const { names, rejection } = spec;
  describe('refusing to write outside the target', () => {
    it('refuses a missing target (it never creates one)', async () => {
      const { writer, target } = spec;
      const error = await rejection(writer.write(`${target}/missing`, [aFile('a', 'x')]));
      expect(error.code).to.equal('InvalidTargetPath');
    });

    it('refuses a target that is a symbolic link, and writes nothing where it points', async () => {
      const { writer, target, fs, fixture } = spec;
      await fs.symlink(fixture.outside, `${target}/linked`);
      const error = await rejection(writer.write(`${target}/linked`, [aFile('a', 'x')]));
      expect(error.code).to.equal('InvalidTargetPath');
      expect(error.message).to.contain('symbolic link');
      expect(await names(fixture.outside)).to.deep.equal([]);
    });

    it('refuses a payload name that is a link leading outside the target', async () => {
      const { writer, target, fs, fixture } = spec;
      await fs.symlink(fixture.outside, `${target}/certs`);
      const error = await rejection(writer.write(target, [aFile('certs/tls.key', 'KEY')]));
      expect(error.code).to.equal('InvalidPayloadPath');
      expect(error.message).to.contain('"certs" is a symbolic link');
      expect(await names(fixture.outside)).to.deep.equal([]);
    });

    it('refuses a link leading outside deep inside a legacy directory on a payload path', async () => {
      const { writer, target, fs } = spec;
      await fs.mkdir(`${target}/certs/ca`, { mode: 0o755, recursive: true });
      await fs.symlink('../../../outside-of-target', `${target}/certs/ca/chain`);
      const error = await rejection(writer.write(target, [aFile('certs/ca/chain/root.pem', 'ROOT')]));
      expect(error.code).to.equal('InvalidPayloadPath');
      expect(error.message).to.contain('"certs/ca/chain" is a symbolic link');
    });

    it('refuses to write or read through a ..data link leading outside the target', async () => {
      const { writer, target, fs, fixture } = spec;
      await fs.writeFile(`${fixture.outside}/passwd`, bytes(1), 0o644);
      await fs.symlink(fixture.outside, `${target}/..data`);
      await fs.symlink('..data/passwd', `${target}/passwd`);
      expect((await rejection(writer.write(target, [aFile('passwd', 'x')]))).code).to.equal('InvalidPayloadPath');
      expect((await rejection(writer.read(target))).code).to.equal('InvalidPayloadPath');
      expect(await names(fixture.outside)).to.deep.equal(['passwd']);
    });
  });
}
