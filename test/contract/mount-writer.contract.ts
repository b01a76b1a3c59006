import { expect } from 'chai';
import fc from 'fast-check';
import { VERSION_DIR_PATTERN } from '../../src/adapters/files/version-dir-name.js';
import { aFile } from '../support/builders.js';
import { validPayloadPath } from '../support/domain-arbitraries.js';
import { memorySpecs } from './mount-writer-memory.contract.js';
import { failureSpecs, refusalSpecs, repairSpecs } from './mount-writer-recovery.contract.js';
import { MountWriterSpec, bytes, isValidPayload, mtimes, richPayload, sorted, type MountWriterFixture } from './mount-writer-spec.js';

export type { MountWriterFixture } from './mount-writer-spec.js';

/** The MountWriter port contract, checked against the kubelet layout of wire.md section 4. */
export function mountWriterContract(name: string, makeFixture: () => Promise<MountWriterFixture>): void {
  describe(`MountWriter contract (${name})`, () => {
    const spec = new MountWriterSpec();
    beforeEach(async () => spec.use(await makeFixture()));
    afterEach(async () => {
      await spec.fixture.close();
      spec.use(undefined);
    });

    roundTripSpecs(spec);
    changeSpecs(spec);
    repairSpecs(spec);
    failureSpecs(spec);
    refusalSpecs(spec);
    readAndClearSpecs(spec);
    sequenceSpecs(spec);
    memorySpecs(spec);
  });
}

/** What goes in comes out, laid out as kubelet does. */
function roundTripSpecs(spec: MountWriterSpec): void {
  const { names, versionDir, text, modeOf } = spec;
  describe('round trip and layout', () => {
    it('reads back exactly what it wrote: nested paths, modes and binary bytes', async () => {
      const { writer, target } = spec;
      expect(await writer.write(target, richPayload())).to.deep.equal({ changed: true });
      expect(await writer.read(target)).to.deep.equal(sorted(richPayload()));
    });

    it('lays the files out as kubelet does: one hidden version dir, a relative ..data link, one link per top-level name', async () => {
      const { writer, target, fs } = spec;
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
      const { writer, target } = spec;
      await writer.write(target, richPayload());
      expect(await modeOf(`${target}/certs/tls.key`)).to.equal(0o400);
      expect(await modeOf(`${target}/certs/ca/root.pem`)).to.equal(0o600);
      expect(await modeOf(`${target}/bin/tool`)).to.equal(0o755);
      expect(await modeOf(`${target}/blob`)).to.equal(0o640);
      expect(await text('certs/ca/root.pem')).to.equal('ROOT');
    });

    it('applies modes that a restrictive umask would strip', async function () {
      const { writer, target, fixture } = spec;
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
      const { writer, target } = spec;
      await writer.write(target, [aFile('plain', 'p', 0)]);
      expect(await writer.read(target)).to.deep.equal([aFile('plain', 'p', 0o644)]);
    });
  });
}

/** When a write changes the target, and when it must not. */
function changeSpecs(spec: MountWriterSpec): void {
  const { names, hiddenDirs, versionDir, text } = spec;
  describe('deciding what changed', () => {
    it('treats an unchanged payload as a no-op: changed=false, same version dir, no mtime change', async () => {
      const { writer, target, fs } = spec;
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
      const { writer, target } = spec;
      await writer.write(target, [aFile('key', 'same', 0o644)]);
      expect(await writer.write(target, [aFile('key', 'same', 0o600)])).to.deep.equal({ changed: true });
      expect(await writer.read(target)).to.deep.equal([aFile('key', 'same', 0o600)]);
    });

    it('counts a same-size content change as a change', async () => {
      const { writer, target } = spec;
      await writer.write(target, [{ path: 'k', mode: 0o644, contents: bytes(1, 2, 3) }]);
      expect(await writer.write(target, [{ path: 'k', mode: 0o644, contents: bytes(1, 2, 4) }])).to.deep.equal({ changed: true });
      expect(await writer.read(target)).to.deep.equal([{ path: 'k', mode: 0o644, contents: bytes(1, 2, 4) }]);
    });

    it('swaps to a new version dir and removes the previous one', async () => {
      const { writer, target } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      const first = await versionDir();
      await writer.write(target, [aFile('a', 'v2')]);
      const second = await versionDir();
      expect(second).to.not.equal(first);
      expect(await hiddenDirs()).to.deep.equal([second]);
      expect(await text('a')).to.equal('v2');
    });

    it('removes files dropped from the payload together with their links', async () => {
      const { writer, target } = spec;
      await writer.write(target, [aFile('keep', 'k'), aFile('dir/gone', 'g'), aFile('gone', 'g')]);
      expect(await writer.write(target, [aFile('keep', 'k')])).to.deep.equal({ changed: true });
      expect(await writer.read(target)).to.deep.equal([aFile('keep', 'k')]);
      expect(await names()).to.deep.equal(['..data', await versionDir(), 'keep'].sort());
    });

    it('writes a payload that shrinks to nothing as an empty version', async () => {
      const { writer, target } = spec;
      await writer.write(target, [aFile('a', 'x')]);
      expect(await writer.write(target, [])).to.deep.equal({ changed: true });
      expect(await writer.read(target)).to.deep.equal([]);
      expect(await names()).to.deep.equal(['..data', await versionDir()].sort());
    });
  });
}

/** Reading back and clearing. */
function readAndClearSpecs(spec: MountWriterSpec): void {
  const { names } = spec;
  describe('read and clear', () => {
    it('reads [] from a missing target and from an empty one', async () => {
      const { writer, target } = spec;
      expect(await writer.read(`${target}/missing`)).to.deep.equal([]);
      expect(await writer.read(target)).to.deep.equal([]);
    });

    it('reads plain files and directories a legacy provider wrote into the target, skipping hidden entries', async () => {
      const { writer, target, fs } = spec;
      await fs.writeFile(`${target}/token`, new TextEncoder().encode('T'), 0o600);
      await fs.mkdir(`${target}/certs`, { mode: 0o755 });
      await fs.writeFile(`${target}/certs/ca.pem`, new TextEncoder().encode('CA'), 0o644);
      await fs.mkdir(`${target}/..hidden`, { mode: 0o755 });
      await fs.writeFile(`${target}/..hidden/x`, bytes(1), 0o644);
      expect(await writer.read(target)).to.deep.equal([aFile('certs/ca.pem', 'CA'), aFile('token', 'T', 0o600)]);
    });

    it('never follows a link it did not make', async () => {
      const { writer, target, fs, fixture } = spec;
      await fs.writeFile(`${fixture.outside}/host-secret`, bytes(1), 0o644);
      await fs.symlink(`${fixture.outside}/host-secret`, `${target}/host-secret`);
      expect(await writer.read(target)).to.deep.equal([]);
    });

    it('reads only files reachable through user-visible links', async () => {
      const { writer, target, fs } = spec;
      await writer.write(target, [aFile('a', 'x'), aFile('d/b', 'y')]);
      await fs.unlink(`${target}/d`);
      expect(await writer.read(target)).to.deep.equal([aFile('a', 'x')]);
    });

    it('clears everything it wrote, and clearing again or clearing a missing target is fine', async () => {
      const { writer, target, fs } = spec;
      await writer.write(target, richPayload());
      await fs.symlink('..nothing', `${target}/..data_tmp`);
      await writer.clear(target);
      expect(await names()).to.deep.equal([]);
      await writer.clear(target);
      await writer.clear(`${target}/missing`);
      expect(await writer.read(target)).to.deep.equal([]);
    });

    it('writes again after a clear', async () => {
      const { writer, target } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      await writer.clear(target);
      expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: true });
      expect(await writer.read(target)).to.deep.equal([aFile('a', 'v1')]);
    });
  });
}

/** Any sequence of payloads. */
function sequenceSpecs(spec: MountWriterSpec): void {
  const { names, versionDir } = spec;
  it('always shows the last payload of any sequence, with one version dir and one link per top-level name', async () => {
    const { writer, target } = spec;
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
}
