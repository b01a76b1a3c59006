import { createHash } from 'node:crypto';
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
 * SHA-256 over the ownership the files get and each file's path, mode and contents, length-prefixed
 * so no two payloads share an encoding; undefined for a payload whose fields are not even of the
 * right types (validation reports it).
 */
export function payloadDigest(files: readonly SecretFile[], ownership: VolumeOwnership): string | undefined {
  const hash = createHash('sha256');
  OWNERSHIP_HEADER.writeDoubleBE(ownership.group ?? -1, 0);
  OWNERSHIP_HEADER.writeDoubleBE(ownership.fileMode, 8);
  OWNERSHIP_HEADER.writeDoubleBE(ownership.directoryMode, 16);
  hash.update(OWNERSHIP_HEADER);
  for (const file of files) {
    if (typeof file.path !== 'string' || typeof file.mode !== 'number' || !(file.contents instanceof Uint8Array)) return undefined;
    FILE_HEADER.writeUInt32BE(Buffer.byteLength(file.path, 'utf8'), 0);
    FILE_HEADER.writeDoubleBE(file.mode, 4);
    FILE_HEADER.writeDoubleBE(file.contents.length, 12);
    hash.update(FILE_HEADER).update(file.path, 'utf8').update(file.contents);
  }
  return hash.digest('base64');
}
