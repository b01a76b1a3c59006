import { DomainError } from './errors.js';
import { DEFAULT_FILE_MODE, type SecretFile } from './secret-payload.js';
import type { SecretProviderClass } from './secret-provider-class.js';
import { capacityFor, type VolumeCapacity } from './volume-capacity.js';

/** A class annotation giving the mode of files whose provider sets none, in octal (`"0640"`). */
export const FILE_MODE_ANNOTATION = 'secrets-store.csi.k8s.io/file-mode';

/** The default mode of files in a volume with a mount group: the group reads, the world does not. */
export const GROUP_FILE_MODE = 0o640;
const OCTAL_MODE = /^0?[0-7]{3}$/;

/**
 * Who owns a volume's files and with which modes. Without a mount group everything is upstream's:
 * files 0644 root:root (or what the provider asked for), directories 0755. With one (kubelet passes
 * the pod's fsGroup as `volume_mount_group`) the tmpfs, its directories and every file belong to
 * that group and files default to 0640, so a non-root container reads them through the group only.
 */
export interface VolumeOwnership {
  /** The group of the tmpfs root, its directories and files; undefined = root's group, upstream's. */
  readonly group: number | undefined;
  /** The mode of files whose provider set none (and the `permission` providers are sent). */
  readonly fileMode: number;
  /** The tmpfs root's and the version directories' mode: searchable by whoever may read the default files. */
  readonly directoryMode: number;
}

/** Upstream's: root:root, files 0644, directories 0755. */
export const UPSTREAM_OWNERSHIP: VolumeOwnership = { group: undefined, fileMode: DEFAULT_FILE_MODE, directoryMode: 0o755 };

/**
 * The class's `secrets-store.csi.k8s.io/file-mode`, or undefined without one. Refused with InvalidClass
 * unless it is three octal digits, optionally after a 0 (`"640"`, `"0640"`), and not 0.
 */
export function classFileMode(spc: SecretProviderClass): number | undefined {
  const value = spc.annotations[FILE_MODE_ANNOTATION];
  if (value === undefined) return undefined;
  const mode = OCTAL_MODE.test(value) ? parseInt(value, 8) : 0;
  if (mode === 0) {
    throw new DomainError(
      'InvalidClass',
      `SecretProviderClass ${spc.namespace}/${spc.name} has an invalid annotation ${FILE_MODE_ANNOTATION} "${value.slice(0, 40)}": expected an octal file mode such as "0640" (0001 to 0777)`,
    );
  }
  return mode;
}

/** The ownership of a volume mounted for `group` (undefined without fsGroup) from class `spc`. */
export function volumeOwnership(group: number | undefined, spc: SecretProviderClass): VolumeOwnership {
  const fileMode = classFileMode(spc) ?? defaultFileMode(group);
  return { group, fileMode, directoryMode: directoryModeFor(fileMode) };
}

/**
 * A directory mode that lets exactly the classes that may read a file of `fileMode` reach it: the
 * owner always (rwx), the group and others each r-x when they may read the file, nothing otherwise.
 */
export function directoryModeFor(fileMode: number): number {
  const group = fileMode & 0o040 ? 0o050 : 0;
  const others = fileMode & 0o004 ? 0o005 : 0;
  return 0o700 | group | others;
}

/** How a volume is mounted: its size and who may enter its root. */
export interface VolumeSettings {
  readonly capacity: VolumeCapacity;
  /** The mode of the volume's root directory. */
  readonly mode: number;
  /** The group of the volume's root directory; undefined = root's group. */
  readonly group: number | undefined;
}

/** The mount settings that hold `files` with `ownership`: the root's mode and group, the size. */
export function mountSettings(ownership: VolumeOwnership, files: readonly SecretFile[]): VolumeSettings {
  return { capacity: capacityFor(files), mode: ownership.directoryMode, group: ownership.group };
}

/**
 * How a volume is mounted before its provider answers: for `group` with the default file mode, at the
 * smallest capacity. The class and the payload then fit it (`mountSettings`).
 */
export function settingsBeforeFetch(group: number | undefined): VolumeSettings {
  return { capacity: capacityFor([]), mode: directoryModeFor(defaultFileMode(group)), group };
}

/** Files' mode when neither the provider nor the class sets one: upstream's 0644, or 0640 with a mount group. */
function defaultFileMode(group: number | undefined): number {
  return group === undefined ? DEFAULT_FILE_MODE : GROUP_FILE_MODE;
}
