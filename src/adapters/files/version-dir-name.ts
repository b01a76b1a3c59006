import type { Clock } from '../../ports/clock.js';

/** The link that names the current version directory. */
export const DATA_LINK = '..data';
/** The link created next to `..data` and renamed over it: the atomic step. */
export const DATA_TMP_LINK = '..data_tmp';
/** The link created next to a legacy entry and renamed over it. */
export const USER_LINK_TMP = '..link_tmp';

/** A fresh 9-digit suffix per call (kubelet appends MkdirTemp's random digits here). */
export type UniqueSuffixSource = () => string;

/** Names the hidden directory of one version: `..YYYY_MM_DD_HH_MM_SS.<9 digits>` in UTC. */
export function versionDirName(epochMs: number, suffix: string): string {
  const at = new Date(epochMs);
  const two = (value: number): string => String(value).padStart(2, '0');
  const stamp = [
    String(at.getUTCFullYear()).padStart(4, '0'),
    two(at.getUTCMonth() + 1),
    two(at.getUTCDate()),
    two(at.getUTCHours()),
    two(at.getUTCMinutes()),
    two(at.getUTCSeconds()),
  ].join('_');
  return `..${stamp}.${suffix}`;
}

/** The names `versionDirName` produces (tests and the layout inspection check names with it). */
export const VERSION_DIR_PATTERN = /^\.\.\d{4}_\d{2}_\d{2}_\d{2}_\d{2}_\d{2}\.\d{9}$/;

/** True for the names of entries the writer owns and keeps out of sight: everything starting with `..`. */
export function isHiddenName(name: string): boolean {
  return name.startsWith('..');
}

/**
 * A suffix source from the high-resolution clock (nanoseconds modulo one second); two calls that
 * read the same value get consecutive suffixes. The writer still retries on a name collision.
 */
export function nanosecondSuffixSource(): UniqueSuffixSource {
  let last = -1n;
  return () => {
    let ns = process.hrtime.bigint() % 1_000_000_000n;
    if (ns === last) ns = (ns + 1n) % 1_000_000_000n;
    last = ns;
    return String(ns).padStart(9, '0');
  };
}

/** Produces version directory names from a clock and a suffix source. */
export class VersionDirNames {
  constructor(
    private readonly clock: Clock,
    private readonly suffix: UniqueSuffixSource,
  ) {}

  next(): string {
    return versionDirName(this.clock.now(), this.suffix());
  }
}
