/**
 * What a writer last put in a target, kept in memory only: the fingerprint of the payload together
 * with its ownership, and the version directory holding it. The fingerprint covers everything a check
 * derives the volume from: the files (paths, modes, contents, hence the tmpfs capacity) and the
 * ownership (group, file and directory modes, hence the root's mode and group).
 */
export interface AppliedPayload {
  readonly fingerprint: string;
  readonly version: string;
}

/** Whether a payload is the one last applied (before anyone looks at the target). */
export function sameAsApplied(last: AppliedPayload | undefined, fingerprint: string | undefined): last is AppliedPayload {
  return last !== undefined && fingerprint !== undefined && last.fingerprint === fingerprint;
}

/**
 * A payload with the ownership last applied to a target, whose `..data` still names the version it
 * went into, needs nothing: no fit, no write, no comparison of files. Any other answer (another
 * payload or ownership, a moved or missing `..data`, nothing remembered, as after a restart) means
 * the full path: fit the volume, inspect the target, compare and write.
 */
export function alreadyApplied(last: AppliedPayload | undefined, fingerprint: string | undefined, shownVersion: string | undefined): boolean {
  return sameAsApplied(last, fingerprint) && last.version === shownVersion;
}
