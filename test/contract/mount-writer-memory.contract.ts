import { expect } from 'chai';
import { UPSTREAM_OWNERSHIP, type VolumeOwnership } from '../../src/domain/volume-ownership.js';
import type { SecretFile } from '../../src/domain/secret-payload.js';
import { aFile } from '../support/builders.js';
import { richPayload, sorted, type MountWriterSpec } from './mount-writer-spec.js';

const GROUP_OWNERSHIP: VolumeOwnership = { group: 2000, fileMode: 0o640, directoryMode: 0o750 };

/** `holds`: what the writer remembers of its own writes, and when it stops trusting it. */
export function memorySpecs(spec: MountWriterSpec): void {
  describe('remembering what it wrote', () => {
    const payload = (): SecretFile[] => sorted(richPayload());
    /** The file-system calls `run` makes, with nothing else counted. */
    const callsOf = async (run: () => Promise<unknown>): Promise<string[]> => {
      spec.fixture.faults.forgetCalls();
      await run();
      return [...spec.fixture.faults.calls];
    };

    it('holds a payload it wrote with one look at ..data, touching nothing', async () => {
      const { writer, target } = spec;
      await writer.write(target, payload(), GROUP_OWNERSHIP);
      let held = false;
      expect(await callsOf(async () => (held = await writer.holds(target, payload(), GROUP_OWNERSHIP)))).to.deep.equal(['readlink']);
      expect(held).to.equal(true);
    });

    const changes: ReadonlyArray<readonly [string, SecretFile[], VolumeOwnership]> = [
      ['another content', [aFile('a', 'v2')], UPSTREAM_OWNERSHIP],
      ['another file mode', [aFile('a', 'v1', 0o600)], UPSTREAM_OWNERSHIP],
      ['another group', [aFile('a', 'v1')], { ...UPSTREAM_OWNERSHIP, group: 3000 }],
      ['another directory mode', [aFile('a', 'v1')], { ...UPSTREAM_OWNERSHIP, directoryMode: 0o750 }],
    ];
    for (const [what, files, ownership] of changes) {
      it(`does not hold a payload with ${what}, without a file-system call, and writing it still changes the target`, async () => {
        const { writer, target } = spec;
        await writer.write(target, [aFile('a', 'v1')], UPSTREAM_OWNERSHIP);
        let held = true;
        expect(await callsOf(async () => (held = await writer.holds(target, files, ownership)))).to.deep.equal([]);
        expect(held).to.equal(false);
        expect(await writer.write(target, files, ownership)).to.deep.equal({ changed: true });
        expect(await writer.holds(target, files, ownership)).to.equal(true);
      });
    }

    it('holds nothing it has not written or compared in full (a restarted driver starts here)', async () => {
      const { writer, target } = spec;
      expect(await callsOf(() => writer.holds(target, payload()))).to.deep.equal([]);
      expect(await writer.holds(target, payload())).to.equal(false);
    });

    it('forgets a target it clears: the next write of the same payload runs in full', async () => {
      const { writer, target } = spec;
      await writer.write(target, payload());
      await writer.clear(target);
      expect(await writer.holds(target, payload())).to.equal(false);
      expect(await writer.write(target, payload())).to.deep.equal({ changed: true });
    });

    it('forgets a target whose write failed: the previous payload is compared in full, then held again', async () => {
      const { writer, target, fixture } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      fixture.faults.failAfter('writeFile', 0);
      await writer.write(target, [aFile('a', 'v2')]).then(
        () => expect.fail('the write should fail'),
        () => undefined,
      );
      expect(await writer.holds(target, [aFile('a', 'v1')])).to.equal(false);
      const calls = await callsOf(async () => expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: false }));
      expect(calls).to.include.members(['readdir', 'readFile']);
      expect(await writer.holds(target, [aFile('a', 'v1')])).to.equal(true);
    });

    it('forgets a target whose clean-up after the swap failed, so the next write finishes it', async () => {
      const { writer, target, fixture, hiddenDirs } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      fixture.faults.failAfter('removeTree', 0);
      expect(await writer.write(target, [aFile('a', 'v2')])).to.deep.equal({ changed: true });
      expect(await hiddenDirs(), 'the replaced version is still there').to.have.length(2);
      expect(await writer.holds(target, [aFile('a', 'v2')])).to.equal(false);
      expect(await writer.write(target, [aFile('a', 'v2')])).to.deep.equal({ changed: false });
      expect(await hiddenDirs()).to.have.length(1);
      expect(await writer.holds(target, [aFile('a', 'v2')])).to.equal(true);
    });

    it('does not hold a payload once ..data is missing (another volume mounted there) or moved, and the write restores it', async () => {
      const { writer, target, fs, names, text } = spec;
      await writer.write(target, [aFile('a', 'v1')]);
      for (const name of await names()) await fs.removeTree(`${target}/${name}`);
      expect(await writer.holds(target, [aFile('a', 'v1')]), 'an empty target').to.equal(false);
      expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: true });
      await fs.mkdir(`${target}/..2001_01_01_00_00_00.000000001`, { mode: 0o755 });
      await fs.unlink(`${target}/..data`);
      await fs.symlink('..2001_01_01_00_00_00.000000001', `${target}/..data`);
      expect(await writer.holds(target, [aFile('a', 'v1')]), '..data moved').to.equal(false);
      expect(await writer.write(target, [aFile('a', 'v1')])).to.deep.equal({ changed: true });
      expect(await text('a')).to.equal('v1');
    });

    it('does not look for a user-visible link removed behind its back while it holds the payload: the next full write restores it', async () => {
      const { writer, target, fs, text } = spec;
      await writer.write(target, [aFile('a', 'v1'), aFile('b', 'v1')]);
      await fs.unlink(`${target}/b`);
      expect(await writer.holds(target, [aFile('a', 'v1'), aFile('b', 'v1')])).to.equal(true);
      expect(await writer.write(target, [aFile('a', 'v1'), aFile('b', 'v1')])).to.deep.equal({ changed: false });
      expect(await text('b')).to.equal('v1');
    });
  });
}
