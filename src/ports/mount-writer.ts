import type { SecretFile } from '../domain/secret-payload.js';
import type { VolumeOwnership } from '../domain/volume-ownership.js';

export interface WriteResult {
  /** False when the target already held exactly these files and modes (nothing was touched). */
  readonly changed: boolean;
}

/**
 * Writes a complete payload into a target directory in the kubelet AtomicWriter layout so readers
 * see either the whole old version or the whole new one.
 * Contract: `write` is all-or-nothing (a failure leaves the previous version intact) and a no-op
 * when nothing changed; files absent from the payload disappear. `read` returns the user-visible
 * files (following the layout's links), sorted by path, and [] for an empty or missing target.
 * `clear` removes everything the writer put in the target and is idempotent. Files get exactly their
 * payload modes; with an ownership, directories get its mode and everything its group (a difference in
 * either is a change). A payload that does not fit is refused with VolumeFull, naming the sizes.
 * `holds` answers from what this process wrote (memory only, never trusted across a restart): true
 * exactly when the last `write` to the target (or its last full comparison) was this payload with this
 * ownership, ended without a failure or leftover, no `clear` came since, and the target's `..data`
 * still names the version it went into. It reads nothing but `..data` (one cheap call, none when the
 * payload differs), writes nothing, and answers false when unsure; `write` then compares in full.
 * Files are given as validated (sorted by path), as `write` gets them.
 * Not safe for concurrent calls on the same target; different targets are independent.
 */
export interface MountWriter {
  holds(target: string, files: readonly SecretFile[], ownership?: VolumeOwnership): Promise<boolean>;
  write(target: string, files: readonly SecretFile[], ownership?: VolumeOwnership): Promise<WriteResult>;
  read(target: string): Promise<SecretFile[]>;
  clear(target: string): Promise<void>;
}
export const MountWriter = Symbol.for('MountWriter');
