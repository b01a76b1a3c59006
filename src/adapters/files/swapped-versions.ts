import { createHash, hash } from 'node:crypto';
import { sameAsApplied, type AppliedPayload } from '../../domain/applied-payload.js';
import type { SecretFile } from '../../domain/secret-payload.js';
import type { VolumeOwnership } from '../../domain/volume-ownership.js';

/**
 * The versions this process swapped in (or compared in full), by target, so that a rotation check whose
 * payload is the one already in place costs a digest and a look at `..data` instead of reading the target
 * back. Only a digest is kept (SHA-256 of the ownership, paths, modes and contents), never the contents,
 * and it never leaves the writer. A target the process did not write (after a restart) is not known, and
 * the writer compares in full.
 */
export class SwappedVersions {
  private readonly byTarget = new Map<string, AppliedPayload>();
  /** One digest per payload and ownership: a check asks `holds`, then may `write` the same files. */
  private readonly digests = new WeakMap<readonly SecretFile[], { readonly ownership: VolumeOwnership; readonly digest: string | undefined }>();

  last(target: string): AppliedPayload | undefined {
    return this.byTarget.get(target);
  }

  /** The version directory holding `digest` in `target`, when this process put it there. */
  versionHolding(target: string, digest: string | undefined): string | undefined {
    const last = this.byTarget.get(target);
    return sameAsApplied(last, digest) ? last.version : undefined;
  }

  remember(target: string, version: string, fingerprint: string): void {
    this.byTarget.set(target, { fingerprint, version });
  }

  forget(target: string): void {
    this.byTarget.delete(target);
  }

  digestOf(files: readonly SecretFile[], ownership: VolumeOwnership): string | undefined {
    const known = this.digests.get(files);
    if (known !== undefined && sameOwnership(known.ownership, ownership)) return known.digest;
    const digest = payloadDigest(files, ownership);
    this.digests.set(files, { ownership, digest });
    return digest;
  }
}

function sameOwnership(a: VolumeOwnership, b: VolumeOwnership): boolean {
  return a.group === b.group && a.fileMode === b.fileMode && a.directoryMode === b.directoryMode;
}

// hash.update() copies what it is given, so one buffer of each serves every digest.
const OWNERSHIP_HEADER = Buffer.alloc(24);
const FILE_HEADER = Buffer.alloc(20);

/**
 * Payloads whose encoding fits here (most: a few small secrets) are encoded into one buffer and hashed
 * in one call, which costs a fraction of a streaming Hash object; the buffer is zeroed after each use,
 * so no secret byte stays in it. Larger payloads are hashed field by field, without a copy.
 */
const ONE_SHOT_BYTES = 16 * 1024;
const oneShotScratch = Buffer.alloc(ONE_SHOT_BYTES);

/**
 * SHA-256 over the ownership the files get and each file's path, mode and contents, length-prefixed
 * so no two payloads share an encoding; undefined for a payload whose fields are not even of the
 * right types (validation reports it).
 */
export function payloadDigest(files: readonly SecretFile[], ownership: VolumeOwnership): string | undefined {
  let encodedBytes = OWNERSHIP_HEADER.length;
  for (const file of files) {
    if (typeof file.path !== 'string' || typeof file.mode !== 'number' || !(file.contents instanceof Uint8Array)) return undefined;
    encodedBytes += FILE_HEADER.length + Buffer.byteLength(file.path, 'utf8') + file.contents.length;
  }
  return encodedBytes <= ONE_SHOT_BYTES ? oneShotDigest(files, ownership, encodedBytes) : streamedDigest(files, ownership);
}

function writeOwnershipHeader(into: Buffer, offset: number, ownership: VolumeOwnership): void {
  into.writeDoubleBE(ownership.group ?? -1, offset);
  into.writeDoubleBE(ownership.fileMode, offset + 8);
  into.writeDoubleBE(ownership.directoryMode, offset + 16);
}

/** Writes a file's header (path length, mode, contents length) at `offset`, given its path's UTF-8 length. */
function writeFileHeader(into: Buffer, offset: number, file: SecretFile, pathBytes: number): void {
  into.writeUInt32BE(pathBytes, offset);
  into.writeDoubleBE(file.mode, offset + 4);
  into.writeDoubleBE(file.contents.length, offset + 12);
}

function oneShotDigest(files: readonly SecretFile[], ownership: VolumeOwnership, encodedBytes: number): string {
  const scratch = oneShotScratch;
  writeOwnershipHeader(scratch, 0, ownership);
  let offset = OWNERSHIP_HEADER.length;
  for (const file of files) {
    const pathBytes = scratch.write(file.path, offset + FILE_HEADER.length, 'utf8');
    writeFileHeader(scratch, offset, file, pathBytes);
    offset += FILE_HEADER.length + pathBytes;
    scratch.set(file.contents, offset);
    offset += file.contents.length;
  }
  const encoded = scratch.subarray(0, encodedBytes);
  try {
    return hash('sha256', encoded, 'base64');
  } finally {
    encoded.fill(0);
  }
}

function streamedDigest(files: readonly SecretFile[], ownership: VolumeOwnership): string {
  const digest = createHash('sha256');
  writeOwnershipHeader(OWNERSHIP_HEADER, 0, ownership);
  digest.update(OWNERSHIP_HEADER);
  for (const file of files) {
    writeFileHeader(FILE_HEADER, 0, file, Buffer.byteLength(file.path, 'utf8'));
    digest.update(FILE_HEADER).update(file.path, 'utf8').update(file.contents);
  }
  return digest.digest('base64');
}
