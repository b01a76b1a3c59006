import { topLevelNames, type SecretFile } from './secret-payload.js';

/**
 * How large a volume's tmpfs must be. A tmpfs limit is a ceiling, not a reservation (pages are used
 * only by what is written), so it is sized from the payload: what one version takes, twice (the
 * next version is written beside the current one before `..data` is swapped), with a floor that
 * fits any ordinary payload (and a provider that writes its own files) without ever growing.
 */
export interface VolumeCapacity {
  /** tmpfs `size=`, in bytes (a whole number of MiB). */
  readonly bytes: number;
  /** tmpfs `nr_inodes=`: files, directories and links. */
  readonly inodes: number;
}

export const PAGE_SIZE = 4096;
const MIB = 1024 * 1024;
/** The floor: no payload smaller than about 8 MiB ever needs more (the size every volume had before). */
export const MIN_VOLUME_CAPACITY: VolumeCapacity = { bytes: 16 * MIB, inodes: 4096 };
/** The version directory, `..data`, `..data_tmp` and the target's own root. */
const LAYOUT_INODES = 4;

/** What one version of a payload takes on a tmpfs: its bytes plus one page per file (tmpfs allocates whole pages). */
export function payloadFootprint(files: readonly SecretFile[]): VolumeCapacity {
  let bytes = 0;
  const directories = new Set<string>();
  for (const file of files) {
    bytes += file.contents.length + PAGE_SIZE;
    const elements = file.path.split('/');
    for (let depth = 1; depth < elements.length; depth++) directories.add(elements.slice(0, depth).join('/'));
  }
  return { bytes, inodes: files.length + directories.size + 1 };
}

/** Two versions side by side (the swap) plus the user-visible links (a long link takes a page). */
export function swapFootprint(files: readonly SecretFile[]): VolumeCapacity {
  const version = payloadFootprint(files);
  const links = topLevelNames(files.map((file) => file.path)).length;
  return { bytes: 2 * version.bytes + links * PAGE_SIZE, inodes: 2 * version.inodes + links + LAYOUT_INODES };
}

/** The capacity a volume is given for a payload: its swap footprint in whole MiB, never below the floor. */
export function capacityFor(files: readonly SecretFile[]): VolumeCapacity {
  const needed = swapFootprint(files);
  return {
    bytes: Math.max(MIN_VOLUME_CAPACITY.bytes, Math.ceil(needed.bytes / MIB) * MIB),
    inodes: Math.max(MIN_VOLUME_CAPACITY.inodes, needed.inodes),
  };
}

/** True when a volume of capacity `current` must grow to hold `needed` (it never shrinks). */
export function mustGrow(current: VolumeCapacity, needed: VolumeCapacity): boolean {
  return current.bytes < needed.bytes || current.inodes < needed.inodes;
}

/** The larger of both, field by field: what a volume is grown to. */
export function largerCapacity(a: VolumeCapacity, b: VolumeCapacity): VolumeCapacity {
  return { bytes: Math.max(a.bytes, b.bytes), inodes: Math.max(a.inodes, b.inodes) };
}

/**
 * Says why a payload did not fit, with the numbers an operator needs, e.g. `payload 9.1 MiB in 1 file
 * needs 18.3 MiB and 8 inodes during a swap; the volume has 16 MiB (6.8 MiB free) and 4096 inodes (4090 free)`.
 */
export function describeShortfall(files: readonly SecretFile[], volume: VolumeUsage | undefined): string {
  const bytes = files.reduce((sum, file) => sum + file.contents.length, 0);
  const needed = swapFootprint(files);
  const payload =
    `payload ${formatBytes(bytes)} in ${files.length} file${files.length === 1 ? '' : 's'} ` +
    `needs ${formatBytes(needed.bytes)} and ${needed.inodes} inodes during a swap`;
  if (volume === undefined) return payload;
  return `${payload}; the volume has ${formatBytes(volume.bytes)} (${formatBytes(volume.freeBytes)} free) and ${volume.inodes} inodes (${volume.freeInodes} free)`;
}

/** A mounted volume's size and what is left of it (statfs). */
export interface VolumeUsage extends VolumeCapacity {
  readonly freeBytes: number;
  readonly freeInodes: number;
}

/** Bytes in the largest binary unit that keeps a number of at least 1, one decimal: `9.1 MiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  if (unit === 0) return `${bytes} B`;
  const text = value.toFixed(1);
  return `${text.endsWith('.0') ? text.slice(0, -2) : text} ${units[unit]}`;
}
