import { createHash } from 'node:crypto';
import type { SecretFile } from '../../domain/secret-payload.js';
import type { VolumeOwnership } from '../../domain/volume-ownership.js';

/** What a writer last put in place in one target: the version directory `..data` points to and the payload's digest. */
interface Swapped {
  readonly versionDir: string;
  readonly digest: string;
}

/**
 * The versions this process swapped in, by target, so that a rotation check whose payload is the one
 * already in place costs a digest instead of reading the files back. Only a digest is kept (SHA-256
 * of the ownership, paths, modes and contents), never the contents. A target the process did not write (after a
 * restart) or whose `..data` moved to another version is not known, and the writer compares in full.
 */
export class SwappedVersions {
  private readonly byTarget = new Map<string, Swapped>();

  /** The version directory holding `digest` in `target`, when this process put it there. */
  versionHolding(target: string, digest: string): string | undefined {
    const swapped = this.byTarget.get(target);
    return swapped?.digest === digest ? swapped.versionDir : undefined;
  }

  remember(target: string, versionDir: string, digest: string): void {
    this.byTarget.set(target, { versionDir, digest });
  }

  forget(target: string): void {
    this.byTarget.delete(target);
  }
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
