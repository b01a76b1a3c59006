import { expect } from 'chai';
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { payloadDigest } from '../../../../src/adapters/files/swapped-versions.js';
import type { SecretFile } from '../../../../src/domain/secret-payload.js';
import type { VolumeOwnership } from '../../../../src/domain/volume-ownership.js';

/** The digest's encoding written out plainly, one fresh buffer per field. */
function referenceDigest(files: readonly SecretFile[], ownership: VolumeOwnership): string {
  const hash = createHash('sha256');
  const owner = Buffer.alloc(24);
  owner.writeDoubleBE(ownership.group ?? -1, 0);
  owner.writeDoubleBE(ownership.fileMode, 8);
  owner.writeDoubleBE(ownership.directoryMode, 16);
  hash.update(owner);
  for (const file of files) {
    const path = Buffer.from(file.path, 'utf8');
    const header = Buffer.alloc(20);
    header.writeUInt32BE(path.length, 0);
    header.writeDoubleBE(file.mode, 4);
    header.writeDoubleBE(file.contents.length, 12);
    hash.update(header).update(path).update(file.contents);
  }
  return hash.digest('base64');
}

const aFile = fc.record({
  path: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
  mode: fc.integer({ min: 0, max: 0o777 }),
  contents: fc.uint8Array({ maxLength: 24 }),
});
const anOwnership = fc.record({
  group: fc.option(fc.integer({ min: 0, max: 70_000 }), { nil: undefined }),
  fileMode: fc.integer({ min: 0, max: 0o777 }),
  directoryMode: fc.integer({ min: 0, max: 0o777 }),
});
const UPSTREAM: VolumeOwnership = { group: undefined, fileMode: 0o644, directoryMode: 0o755 };

describe('payloadDigest (what a writer remembers of the payload it swapped in)', () => {
  it('is the length-prefixed SHA-256 of ownership, paths, modes and contents, for any payload and however often it runs', () => {
    fc.assert(
      fc.property(fc.array(fc.array(aFile, { maxLength: 4 }), { minLength: 1, maxLength: 3 }), anOwnership, (payloads, ownership) => {
        for (const files of payloads) expect(payloadDigest(files, ownership)).to.equal(referenceDigest(files, ownership));
      }),
    );
  });

  it('is the same encoding whether the payload is hashed in one buffer or field by field (around 16 KiB of encoding)', () => {
    const aLargeFile = fc.record({
      path: fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }),
      mode: fc.integer({ min: 0, max: 0o777 }),
      contents: fc.integer({ min: 0, max: 12 * 1024 }).map((length) => Buffer.alloc(length, length % 251)),
    });
    fc.assert(
      fc.property(fc.array(aLargeFile, { maxLength: 3 }), anOwnership, (files, ownership) => {
        expect(payloadDigest(files, ownership)).to.equal(referenceDigest(files, ownership));
      }),
      { numRuns: 60 },
    );
  });

  it('tells payloads apart that differ only in where one path ends and the contents begin', () => {
    const split = (path: string, contents: string): SecretFile[] => [{ path, mode: 0o644, contents: Buffer.from(contents) }];
    expect(payloadDigest(split('ab', 'c'), UPSTREAM)).to.not.equal(payloadDigest(split('a', 'bc'), UPSTREAM));
  });

  it('is undefined for a payload whose fields are not of the right types', () => {
    const bad = [{ path: 'a', mode: '0644', contents: Buffer.from('x') }] as unknown as SecretFile[];
    expect(payloadDigest(bad, UPSTREAM)).to.equal(undefined);
  });
});
