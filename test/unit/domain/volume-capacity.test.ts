import { expect } from 'chai';
import fc from 'fast-check';
import type { SecretFile } from '../../../src/domain/secret-payload.js';
import {
  capacityFor,
  describeShortfall,
  formatBytes,
  largerCapacity,
  MIN_VOLUME_CAPACITY,
  mustGrow,
  PAGE_SIZE,
  payloadFootprint,
  swapFootprint,
} from '../../../src/domain/volume-capacity.js';

const MIB = 1024 * 1024;
const sized = (path: string, bytes: number): SecretFile => ({ path, mode: 0o644, contents: new Uint8Array(bytes) });
const many = (count: number, bytes: number): SecretFile[] => Array.from({ length: count }, (_, i) => sized(`d/f${i}`, bytes));

describe('domain/volume-capacity', () => {
  it('counts one version as its bytes plus a page per file, and its files, directories and version directory as inodes', () => {
    expect(payloadFootprint([sized('a', 10), sized('x/y/b', 0)])).to.deep.equal({ bytes: 10 + 2 * PAGE_SIZE, inodes: 2 + 2 + 1 });
  });

  it('needs two versions side by side plus a page and an inode per user-visible link, and the layout inodes', () => {
    expect(swapFootprint([sized('a', 10), sized('x/y/b', 0)])).to.deep.equal({ bytes: 2 * (10 + 2 * PAGE_SIZE) + 2 * PAGE_SIZE, inodes: 2 * 5 + 2 + 4 });
  });

  const table: { name: string; files: SecretFile[]; bytes: number; inodes: number }[] = [
    { name: 'a small payload gets the floor', files: [sized('a', 100)], bytes: 16 * MIB, inodes: 4096 },
    { name: 'one 9 MiB file', files: [sized('bundle', 9 * MIB)], bytes: 19 * MIB, inodes: 4096 },
    { name: '2,500 small files', files: many(2500, 100), bytes: 21 * MIB, inodes: 5009 },
    { name: '10,000 small files', files: many(10_000, 100), bytes: 81 * MIB, inodes: 20_009 },
  ];
  for (const { name, files, bytes, inodes } of table) {
    it(`sizes ${name}: ${formatBytes(bytes)}, ${inodes} inodes`, () => {
      expect(capacityFor(files)).to.deep.equal({ bytes, inodes });
    });
  }

  it('always holds two versions, in whole MiB, never below the floor (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 3 * MIB }), { maxLength: 50 }), (sizes) => {
        const files = sizes.map((bytes, i) => sized(`f${i}`, bytes));
        const capacity = capacityFor(files);
        const needed = swapFootprint(files);
        expect(capacity.bytes % MIB).to.equal(0);
        expect(capacity.bytes).to.be.at.least(Math.max(needed.bytes, MIN_VOLUME_CAPACITY.bytes));
        expect(capacity.inodes).to.be.at.least(Math.max(needed.inodes, MIN_VOLUME_CAPACITY.inodes));
        expect(capacity.bytes).to.be.below(Math.max(needed.bytes, MIN_VOLUME_CAPACITY.bytes) + MIB);
      }),
    );
  });

  it('grows only when either limit is short, to the larger of each', () => {
    const current = { bytes: 16 * MIB, inodes: 4096 };
    expect(mustGrow(current, { bytes: 16 * MIB, inodes: 4096 })).to.equal(false);
    expect(mustGrow(current, { bytes: 17 * MIB, inodes: 10 })).to.equal(true);
    expect(mustGrow(current, { bytes: MIB, inodes: 5000 })).to.equal(true);
    expect(largerCapacity(current, { bytes: MIB, inodes: 5000 })).to.deep.equal({ bytes: 16 * MIB, inodes: 5000 });
  });

  it('says what a payload needs and what the volume has, in readable units', () => {
    const usage = { bytes: 16 * MIB, freeBytes: 6.8 * MIB, inodes: 4096, freeInodes: 4090 };
    expect(describeShortfall([sized('bundle', 9.1 * MIB)], usage)).to.equal(
      'payload 9.1 MiB in 1 file needs 18.2 MiB and 9 inodes during a swap; the volume has 16 MiB (6.8 MiB free) and 4096 inodes (4090 free)',
    );
    expect(describeShortfall(many(3, 10), undefined)).to.equal('payload 30 B in 3 files needs 28.1 KiB and 15 inodes during a swap');
  });

  it('formats bytes in binary units with one decimal', () => {
    expect([0, 512, 1024, 1536, MIB, 9.1 * MIB, 3 * 1024 * MIB].map(formatBytes)).to.deep.equal(['0 B', '512 B', '1 KiB', '1.5 KiB', '1 MiB', '9.1 MiB', '3 GiB']);
  });
});
