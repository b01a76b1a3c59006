import { expect } from 'chai';
import fc from 'fast-check';
import type { FileSystem } from '../../src/adapters/files/file-system.js';
import { VERSION_DIR_PATTERN } from '../../src/adapters/files/version-dir-name.js';
import { DomainError } from '../../src/domain/errors.js';
import { validatePayload, type SecretFile } from '../../src/domain/secret-payload.js';
import type { MountWriter } from '../../src/ports/mount-writer.js';
import { aFile } from '../support/builders.js';
import { validPayloadPath } from '../support/domain-arbitraries.js';
import type { FaultyFileSystem } from '../support/faulty-file-system.js';

export interface MountWriterFixture {
  readonly writer: MountWriter;
  /** An existing, empty directory (what the volume mounter leaves). */
  readonly target: string;
  /** An existing, empty directory outside the target: links that escape lead here. */
  readonly outside: string;
  /** The file system under the writer, for arranging and inspecting the target. */
  readonly fs: FileSystem;
  /** Faults injected into the writer's file system. */
  readonly faults: FaultyFileSystem;
  /** Whether `process.umask` reaches this file system (false for memfs). */
  readonly honoursUmask: boolean;
  close(): Promise<void>;
}

const bytes = (...values: number[]): Uint8Array => new Uint8Array(values);
const allByteValues = new Uint8Array(256).map((_, i) => i);
const sorted = (files: readonly SecretFile[]): SecretFile[] => validatePayload(files);

/** A payload with a nested tree, every interesting mode and binary content. */
function richPayload(): SecretFile[] {
  return [
    aFile('config.yaml', 'level: info\n', 0o644),
    aFile('certs/tls.key', 'KEY', 0o400),
    aFile('certs/ca/root.pem', 'ROOT', 0o600),
    aFile('bin/tool', '#!/bin/sh\n', 0o755),
    { path: 'blob', mode: 0o640, contents: allByteValues },
  ];
}

/** The MountWriter port contract, checked against the kubelet layout of wire.md section 4. */
export function mountWriterContract(name: string, makeFixture: () => Promise<MountWriterFixture>): void {
  describe(`MountWriter contract (${name})`, () => {
    let fixture: MountWriterFixture;
    let writer: MountWriter;
    let target: string;
    let fs: FileSystem;

    beforeEach(async () => {
      fixture = await makeFixture();
      ({ writer, target, fs } = fixture);
    });
    afterEach(() => fixture.close());

    const names = async (dir = target): Promise<string[]> => (await fs.readdir(dir)).map((entry) => entry.name).sort();
    const hiddenDirs = async (): Promise<string[]> => (await names()).filter((entry) => entry.startsWith('..') && entry !== '..data');
    const versionDir = async (): Promise<string> => fs.readlink(`${target}/..data`);
    const text = async (path: string): Promise<string> => new TextDecoder().decode(await fs.readFile(`${target}/${path}`));
    const modeOf = async (path: string): Promise<number> => (await fs.stat(path)).mode & 0o777;
    const rejection = async (promise: Promise<unknown>): Promise<DomainError> => {
      const error = await promise.then(() => undefined, (caught: unknown) => caught);
      expect(error, 'expected a rejection').to.be.instanceOf(DomainError);
      return error as DomainError;
    };

    describe('round trip and layout', () => {
      it('reads back exactly what it wrote: nested paths, modes and binary bytes', async () => {
        expect(await writer.write(target, richPayload())).to.deep.equal({ changed: true });
        expect(await writer.read(target)).to.deep.equal(sorted(richPayload()));
      });

      it('lays the files out as kubelet does: one hidden version dir, a relative ..data link, one link per top-level name', async () => {
        await writer.write(target, richPayload());
        const version = await versionDir();
        expect(version).to.match(VERSION_DIR_PATTERN);
        expect(await names()).to.deep.equal(['..data', version, 'bin', 'blob', 'certs', 'config.yaml'].sort());
        for (const top of ['bin', 'blob', 'certs', 'config.yaml']) {
          expect((await fs.lstat(`${target}/${top}`)).isSymbolicLink(), top).to.equal(true);
          expect(await fs.readlink(`${target}/${top}`)).to.equal(`..data/${top}`);
        }
        expect(await modeOf(`${target}/${version}`)).to.equal(0o755);
        expect(await modeOf(`${target}/${version}/certs/ca`)).to.equal(0o755);
        expect(await names(`${target}/${version}`)).to.deep.equal(['bin', 'blob', 'certs', 'config.yaml']);
      });

      it('gives each file its exact mode through the user-visible path', async () => {
        await writer.write(target, richPayload());
        expect(await modeOf(`${target}/certs/tls.key`)).to.equal(0o400);
        expect(await modeOf(`${target}/certs/ca/root.pem`)).to.equal(0o600);
        expect(await modeOf(`${target}/bin/tool`)).to.equal(0o755);
        expect(await modeOf(`${target}/blob`)).to.equal(0o640);
        expect(await text('certs/ca/root.pem')).to.equal('ROOT');
      });

      it('applies modes that a restrictive umask would strip', async function () {
        if (!fixture.honoursUmask) this.skip();
        const previous = process.umask(0o077);
        try {
          await writer.write(target, [aFile('bin/tool', 'x', 0o755), aFile('shared', 'y', 0o644)]);
        } finally {
          process.umask(previous);
        }
        expect(await modeOf(`${target}/bin/tool`)).to.equal(0o755);
        expect(await modeOf(`${target}/shared`)).to.equal(0o644);
        expect(await modeOf(`${target}/${await versionDir()}/bin`)).to.equal(0o755);
      });

      it('gives a file with mode 0 the default mode 0644', async () => {
        await writer.write(target, [aFile('plain', 'p', 0)]);
        expect(await writer.read(target)).to.deep.equal([aFile('plain', 'p', 0o644)]);
      });
    });

    describe('deciding what changed', () => {
      it('treats an unchanged payload as a no-op: changed=false, same version dir, no mtime change', async () => {
        await writer.write(target, richPayload());
        const version = await versionDir();
        const before = await mtimes(fs, target, version);
        await new Promise((resolve) => setTimeout(resolve, 15));
        expect(await writer.write(target, [...richPayload()].reverse())).to.deep.equal({ changed: false });
        expect(await versionDir()).to.equal(version);
        expect(await hiddenDirs()).to.deep.equal([version]);
        expect(await mtimes(fs, target, version)).to.deep.equal(before);
      });

      it('counts a mode-only change as a change', async () => {
        await writer.write(target, [aFile('key', 'same', 0o644)]);
        expect(await writer.write(target, [aFile('key', 'same', 0o600)])).to.deep.equal({ changed: true });
        expect(await writer.read(target)).to.deep.equal([aFile('key', 'same', 0o600)]);
      });

      it('counts a same-size content change as a change', async () => {
        await writer.write(target, [{ path: 'k', mode: 0o644, contents: bytes(1, 2, 3) }]);
        expect(await writer.write(target, [{ path: 'k', mode: 0o644, contents: bytes(1, 2, 4) }])).to.deep.equal({ changed: true });
        expect(await writer.read(target)).to.deep.equal([{ path: 'k', mode: 0o644, contents: bytes(1, 2, 4) }]);
      });

      it('swaps to a new version dir and removes the previous one', async () => {
        await writer.write(target, [aFile('a', 'v1')]);
        const first = await versionDir();
        await writer.write(target, [aFile('a', 'v2')]);
        const second = await versionDir();
        expect(second).to.not.equal(first);
        expect(await hiddenDirs()).to.deep.equal([second]);
        expect(await text('a')).to.equal('v2');
      });

      it('removes files dropped from the payload together with their links', async () => {
        await writer.write(target, [aFile('keep', 'k'), aFile('dir/gone', 'g'), aFile('gone', 'g')]);
        expect(await writer.write(target, [aFile('keep', 'k')])).to.deep.equal({ changed: true });
        expect(await writer.read(target)).to.deep.equal([aFile('keep', 'k')]);
        expect(await names()).to.deep.equal(['..data', await versionDir(), 'keep'].sort());
      });

      it('writes a payload that shrinks to nothing as an empty version', async () => {
        await writer.write(target, [aFile('a', 'x')]);
        expect(await writer.write(target, [])).to.deep.equal({ changed: true });
        expect(await writer.read(target)).to.deep.equal([]);
        expect(await names()).to.deep.equal(['..data', await versionDir()].sort());
      });
    });

    describe('repairing a target left behind by a crash or an older writer', () => {
      it('removes a stale ..data_tmp when it writes a new version', async () => {
        await writer.write(target, [aFile('a', 'v1')]);
        await fs.symlink('..2001_01_01_00_00_00.000000000', `${target}/..data_tmp`);
        await writer.write(target, [aFile('a', 'v2')]);
        expect(await hiddenDirs()).to.deep.equal([await versionDir()]);
      });

      it('removes a stale ..data_tmp even when the payload is unchanged, without counting a change', async () => {
        await writer.write(target, [aFile('a', 'v1')]);
        await fs.symlink(await versionDir(), `${target}/..data_tmp`);
        expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: false });
        expect(await hiddenDirs()).to.deep.equal([await versionDir()]);
      });

      it('removes orphan hidden dirs that ..data does not name', async () => {
        await fs.mkdir(`${target}/..2001_01_01_00_00_00.000000001`, { mode: 0o755 });
        await fs.writeFile(`${target}/..2001_01_01_00_00_00.000000001/old`, bytes(1), 0o644);
        await writer.write(target, [aFile('a', 'v1')]);
        expect(await hiddenDirs()).to.deep.equal([await versionDir()]);
      });

      it('re-creates a missing user-visible link and reports no change', async () => {
        await writer.write(target, [aFile('a', 'v1'), aFile('b', 'v1')]);
        await fs.unlink(`${target}/a`);
        expect(await writer.write(target, [aFile('a', 'v1'), aFile('b', 'v1')])).to.deep.equal({ changed: false });
        expect(await fs.readlink(`${target}/a`)).to.equal('..data/a');
        expect(await text('a')).to.equal('v1');
      });

      it('replaces a legacy plain file and a legacy directory at payload names', async () => {
        await fs.writeFile(`${target}/token`, new TextEncoder().encode('legacy'), 0o644);
        await fs.mkdir(`${target}/certs`, { mode: 0o755 });
        await fs.writeFile(`${target}/certs/old.pem`, bytes(1), 0o644);
        expect(await writer.write(target, [aFile('token', 'new'), aFile('certs/tls.crt', 'CRT')])).to.deep.equal({ changed: true });
        expect(await fs.readlink(`${target}/token`)).to.equal('..data/token');
        expect(await fs.readlink(`${target}/certs`)).to.equal('..data/certs');
        expect(await writer.read(target)).to.deep.equal([aFile('certs/tls.crt', 'CRT'), aFile('token', 'new')]);
      });

      it('replaces a legacy file hiding a name even when ..data already holds the payload', async () => {
        await writer.write(target, [aFile('a', 'v1')]);
        await fs.unlink(`${target}/a`);
        await fs.writeFile(`${target}/a`, new TextEncoder().encode('legacy'), 0o644);
        expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: true });
        expect(await text('a')).to.equal('v1');
        expect(await fs.readlink(`${target}/a`)).to.equal('..data/a');
      });

      it('leaves entries that are neither its own nor in the payload alone', async () => {
        await fs.writeFile(`${target}/unrelated`, bytes(7), 0o644);
        await writer.write(target, [aFile('a', 'v1')]);
        await writer.write(target, [aFile('b', 'v2')]);
        expect(await names()).to.include('unrelated');
        expect(await writer.read(target)).to.deep.equal([aFile('b', 'v2')]);
      });
    });

    describe('failures', () => {
      it('keeps the previous version and removes its partial dir when writing a file fails', async () => {
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
        await writer.write(target, [aFile('a', 'v1')]);
        const version = await versionDir();
        fixture.faults.failAfter('rename', 0, 'EIO');
        await rejection(writer.write(target, [aFile('a', 'v2'), aFile('new', 'v2')]));
        expect(await names()).to.deep.equal(['..data', version, 'a'].sort());
        expect(await writer.read(target)).to.deep.equal([aFile('a', 'v1')]);
      });

      it('says the payload does not fit when the volume is full', async () => {
        await writer.write(target, [aFile('a', 'v1')]);
        fixture.faults.failAfter('writeFile', 0, 'ENOSPC');
        const error = await rejection(writer.write(target, [aFile('a', 'v2-longer')]));
        expect(error.code).to.equal('Internal');
        expect(error.message).to.match(/no space left in ".*" for the payload \(1 file, 9 bytes\)/);
        expect(error.message).to.not.contain('v2-longer');
        expect(await writer.read(target)).to.deep.equal([aFile('a', 'v1')]);
      });

      it('rejects an invalid payload path before touching the target', async () => {
        const error = await rejection(writer.write(target, [aFile('../escape', 'x')]));
        expect(error.code).to.equal('InvalidPayloadPath');
        expect(await names()).to.deep.equal([]);
      });
    });

    describe('refusing to write outside the target', () => {
      it('refuses a missing target (it never creates one)', async () => {
        const error = await rejection(writer.write(`${target}/missing`, [aFile('a', 'x')]));
        expect(error.code).to.equal('InvalidTargetPath');
      });

      it('refuses a target that is a symbolic link, and writes nothing where it points', async () => {
        await fs.symlink(fixture.outside, `${target}/linked`);
        const error = await rejection(writer.write(`${target}/linked`, [aFile('a', 'x')]));
        expect(error.code).to.equal('InvalidTargetPath');
        expect(error.message).to.contain('symbolic link');
        expect(await names(fixture.outside)).to.deep.equal([]);
      });

      it('refuses a payload name that is a link leading outside the target', async () => {
        await fs.symlink(fixture.outside, `${target}/certs`);
        const error = await rejection(writer.write(target, [aFile('certs/tls.key', 'KEY')]));
        expect(error.code).to.equal('InvalidPayloadPath');
        expect(error.message).to.contain('"certs" is a symbolic link');
        expect(await names(fixture.outside)).to.deep.equal([]);
      });

      it('refuses a link leading outside inside a legacy directory on a payload path', async () => {
        await fs.mkdir(`${target}/certs`, { mode: 0o755 });
        await fs.symlink('../../outside-of-target', `${target}/certs/ca`);
        const error = await rejection(writer.write(target, [aFile('certs/ca/root.pem', 'ROOT')]));
        expect(error.code).to.equal('InvalidPayloadPath');
      });

      it('refuses to write or read through a ..data link leading outside the target', async () => {
        await fs.writeFile(`${fixture.outside}/passwd`, bytes(1), 0o644);
        await fs.symlink(fixture.outside, `${target}/..data`);
        await fs.symlink('..data/passwd', `${target}/passwd`);
        expect((await rejection(writer.write(target, [aFile('passwd', 'x')]))).code).to.equal('InvalidPayloadPath');
        expect((await rejection(writer.read(target))).code).to.equal('InvalidPayloadPath');
        expect(await names(fixture.outside)).to.deep.equal(['passwd']);
      });
    });

    describe('read and clear', () => {
      it('reads [] from a missing target and from an empty one', async () => {
        expect(await writer.read(`${target}/missing`)).to.deep.equal([]);
        expect(await writer.read(target)).to.deep.equal([]);
      });

      it('reads only files reachable through user-visible links', async () => {
        await writer.write(target, [aFile('a', 'x'), aFile('d/b', 'y')]);
        await fs.unlink(`${target}/d`);
        expect(await writer.read(target)).to.deep.equal([aFile('a', 'x')]);
      });

      it('clears everything it wrote, and clearing again or clearing a missing target is fine', async () => {
        await writer.write(target, richPayload());
        await fs.symlink('..nothing', `${target}/..data_tmp`);
        await writer.clear(target);
        expect(await names()).to.deep.equal([]);
        await writer.clear(target);
        await writer.clear(`${target}/missing`);
        expect(await writer.read(target)).to.deep.equal([]);
      });

      it('writes again after a clear', async () => {
        await writer.write(target, [aFile('a', 'v1')]);
        await writer.clear(target);
        expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: true });
        expect(await writer.read(target)).to.deep.equal([aFile('a', 'v1')]);
      });
    });

    it('always shows the last payload of any sequence, with one version dir and one link per top-level name', async () => {
      const payload = fc
        .uniqueArray(fc.record({ path: validPayloadPath, mode: fc.constantFrom(0o400, 0o600, 0o644, 0o755), data: fc.uint8Array({ maxLength: 16 }) }), {
          selector: (file) => file.path,
          maxLength: 5,
        })
        .map((files) => files.map((file) => ({ path: file.path, mode: file.mode, contents: file.data })))
        .filter(isValidPayload);
      await fc.assert(
        fc.asyncProperty(fc.array(payload, { minLength: 1, maxLength: 4 }), async (sequence) => {
          await writer.clear(target);
          for (const files of sequence) {
            await writer.write(target, files);
            expect(await writer.read(target)).to.deep.equal(sorted(files));
            const tops = [...new Set(files.map((file) => file.path.split('/')[0]!))];
            expect(await names()).to.deep.equal(['..data', await versionDir(), ...tops].sort());
          }
        }),
        { numRuns: 25 },
      );
    });
  });
}

function isValidPayload(files: readonly SecretFile[]): boolean {
  try {
    validatePayload(files);
    return true;
  } catch {
    return false;
  }
}

/** The mtimes of the version dir and every file in it. */
async function mtimes(fs: FileSystem, target: string, version: string): Promise<Record<string, number>> {
  const result: Record<string, number> = {};
  const visit = async (dir: string, prefix: string): Promise<void> => {
    result[prefix || '.'] = (await fs.lstat(dir)).mtimeMs;
    for (const entry of await fs.readdir(dir)) {
      const path = `${prefix}${prefix ? '/' : ''}${entry.name}`;
      if (entry.isDirectory()) await visit(`${dir}/${entry.name}`, path);
      else result[path] = (await fs.lstat(`${dir}/${entry.name}`)).mtimeMs;
    }
  };
  await visit(`${target}/${version}`, '');
  return result;
}
