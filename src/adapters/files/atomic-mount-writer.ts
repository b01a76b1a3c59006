import { alreadyApplied } from '../../domain/applied-payload.js';
import { topLevelNames, validatePayload, type SecretFile } from '../../domain/secret-payload.js';
import { UPSTREAM_OWNERSHIP, type VolumeOwnership } from '../../domain/volume-ownership.js';
import type { Clock } from '../../ports/clock.js';
import type { MountWriter, WriteResult } from '../../ports/mount-writer.js';
import { errorCode, type FileSystem } from './file-system.js';
import { withFileErrors } from './file-errors.js';
import {
  inspectTarget,
  isOwnUserLink,
  refuseDataLinkOutside,
  refuseLinksOutside,
  requireTargetDirectory,
  userLinkValue,
  type TargetEntry,
  type TargetLayout,
} from './target-layout.js';
import {
  DATA_LINK,
  DATA_TMP_LINK,
  USER_LINK_TMP,
  VersionDirNames,
  isHiddenName,
  nanosecondSuffixSource,
  type UniqueSuffixSource,
} from './version-dir-name.js';
import { RetiredVersions, type RetirementPolicy } from './retired-versions.js';
import { SwappedVersions } from './swapped-versions.js';
import { comparePaths, listPath, readFiles, treeMatchesPayload, type TreeFile } from './version-tree.js';

export interface AtomicMountWriterOptions {
  /** Dates the hidden version directories (UTC). */
  readonly clock: Clock;
  /** The 9-digit part of a version directory name; defaults to the nanosecond clock. */
  readonly uniqueSuffix?: UniqueSuffixSource;
  /** Keep replaced versions for a grace period; without one they go at once (wire.md step 7). */
  readonly retirement?: RetirementPolicy;
}

const NAME_ATTEMPTS = 5;

/**
 * Writes payloads in kubelet's AtomicWriter layout (wire.md section 4): each version in a fresh
 * hidden directory, `..data` swapped to it by one rename, one `<top> -> ..data/<top>` link per
 * top-level name. Readers opening `<target>/<name>` see a whole version, never a mix.
 *
 * Decisions: `changed` is true exactly when a new version was swapped in. Repairs that leave the
 * version alone (re-creating a missing user-visible link, removing a stale `..data_tmp`, orphan hidden
 * entries or dangling links of dropped names) report `changed: false`. A foreign entry (legacy
 * file, directory, or a link elsewhere) at a payload name is a difference: a new version is written
 * and the entry replaced. A target that is missing, not a directory or a symbolic link is refused
 * with InvalidTargetPath; a link in the target that leads outside it on a payload path or through
 * `..data` is refused with InvalidPayloadPath; file-system failures become Internal with the errno
 * code, except a full volume (VolumeFull, with the payload's and the volume's sizes). Files get their
 * payload modes exactly; directories the ownership's mode; with a group, every file and directory
 * belongs to it (a file or version directory with another group or mode is a difference). Clean-up after the swap is best effort: a later
 * write removes what is left. Without a retirement policy the replaced version is removed right
 * after the swap (kubelet's step 7); with one it stays readable for the grace period, so a reader
 * that resolved `..data` just before the swap still finds its files (see RetiredVersions).
 * `read` returns the files behind the user-visible entries (its own links through `..data`, plain
 * files a legacy provider wrote) and never follows a link it did not make.
 * A payload equal to the one this writer last swapped into the target, whose `..data` still points
 * there, is not read back to be compared (see SwappedVersions), and `holds` says so from memory and
 * one readlink of `..data`. What is remembered goes at the start of every write (a failed one leaves
 * nothing), with `clear`, and when a clean-up was left for later (a failed sweep, a retired version
 * that could not be removed), so the next check takes the full path that finishes it.
 * Tampering while the record holds (a user-visible link removed, a file edited in place by root on
 * the node; the pod sees the volume read-only) is not looked for: the next changed payload, or the
 * first check after a restart, repairs it. A moved or missing `..data` (another mount, an unmounted
 * volume) is seen, and the full path runs.
 */
export class AtomicMountWriter implements MountWriter {
  private readonly names: VersionDirNames;
  private readonly retired: RetiredVersions;
  private readonly swapped = new SwappedVersions();

  constructor(
    private readonly fs: FileSystem,
    options: AtomicMountWriterOptions,
  ) {
    this.names = new VersionDirNames(options.clock, options.uniqueSuffix ?? nanosecondSuffixSource());
    this.retired = new RetiredVersions(fs, options.clock, options.retirement, (target) => this.swapped.forget(target));
  }

  async holds(target: string, files: readonly SecretFile[], ownership: VolumeOwnership = UPSTREAM_OWNERSHIP): Promise<boolean> {
    const last = this.swapped.last(target);
    if (last === undefined) return false;
    const digest = this.swapped.digestOf(files, ownership);
    if (digest !== last.fingerprint) return false;
    const shown = await this.fs.readlink(`${target}/${DATA_LINK}`).catch(() => undefined);
    return alreadyApplied(last, digest, shown);
  }

  async write(target: string, files: readonly SecretFile[], ownership: VolumeOwnership = UPSTREAM_OWNERSHIP): Promise<WriteResult> {
    const digest = this.swapped.digestOf(files, ownership);
    const swappedIn = this.swapped.versionHolding(target, digest);
    this.swapped.forget(target);
    const payload = validatePayload(files);
    try {
      return await withFileErrors({ target, action: 'write', payload, usage: () => this.fs.usage(target) }, async () => {
        await requireTargetDirectory(this.fs, target);
        const layout = await inspectTarget(this.fs, target);
        refuseDataLinkOutside(layout);
        await refuseLinksOutside(this.fs, layout, payload.map((file) => file.path));
        const names = topLevelNames(payload.map((file) => file.path));
        if (await this.alreadyHolds(layout, names, payload, ownership, swappedIn)) {
          // Remembered before the repair: a sweep it leaves for later forgets the target again.
          this.remember(target, layout.currentVersion!, digest);
          await this.repair(layout, names);
          return { changed: false };
        }
        await this.publish(layout, names, payload, ownership, digest);
        return { changed: true };
      });
    } catch (error) {
      this.swapped.forget(target);
      throw error;
    }
  }

  async read(target: string): Promise<SecretFile[]> {
    return withFileErrors({ target, action: 'read' }, async () => {
      if (!(await this.targetExists(target))) return [];
      const layout = await inspectTarget(this.fs, target);
      refuseDataLinkOutside(layout);
      const visible = [...layout.entries.values()].filter((entry) => !isHiddenName(entry.name));
      const listed = (await Promise.all(visible.map((entry) => this.visibleFiles(layout, entry)))).flat();
      return readFiles(this.fs, listed.sort((a, b) => comparePaths(a.path, b.path)));
    });
  }

  async clear(target: string): Promise<void> {
    this.swapped.forget(target);
    await withFileErrors({ target, action: 'clear' }, async () => {
      if (!(await this.targetExists(target))) return;
      const layout = await inspectTarget(this.fs, target);
      const entries = [...layout.entries.values()];
      // Links first, so no reader finds a user-visible name whose version is already gone.
      await Promise.all(entries.filter(isOwnUserLink).map((entry) => this.fs.unlink(`${target}/${entry.name}`)));
      if (layout.entries.has(DATA_LINK)) await this.fs.removeTree(`${target}/${DATA_LINK}`);
      const hidden = entries.filter((entry) => isHiddenName(entry.name) && entry.name !== DATA_LINK);
      await Promise.all(hidden.map((entry) => this.fs.removeTree(`${target}/${entry.name}`)));
    });
  }

  /**
   * The files behind one user-visible entry: through `..data` for the writer's own links, in place
   * for plain files and directories (written by a legacy provider or an older writer). Links the
   * writer did not make are never followed: they could lead anywhere.
   */
  private async visibleFiles(layout: TargetLayout, entry: TargetEntry): Promise<TreeFile[]> {
    if (isOwnUserLink(entry)) {
      const version = layout.currentVersion;
      return version === undefined ? [] : listPath(this.fs, `${layout.target}/${version}/${entry.name}`, entry.name);
    }
    if (entry.kind === 'file' || entry.kind === 'directory') return listPath(this.fs, `${layout.target}/${entry.name}`, entry.name);
    return [];
  }

  /** False for a missing target; refuses one that is a link or not a directory. */
  private async targetExists(target: string): Promise<boolean> {
    try {
      await this.fs.lstat(target);
    } catch (error) {
      if (errorCode(error) === 'ENOENT') return false;
      throw error;
    }
    await requireTargetDirectory(this.fs, target);
    return true;
  }

  /**
   * The current version holds exactly the payload and no foreign entry hides one of its names. The
   * version this writer swapped in with the same digest (payload and ownership) is not read back.
   */
  private async alreadyHolds(
    layout: TargetLayout,
    names: readonly string[],
    payload: readonly SecretFile[],
    ownership: VolumeOwnership,
    swappedIn: string | undefined,
  ): Promise<boolean> {
    if (layout.currentVersion === undefined) return false;
    const hidden = names.some((name) => layout.entries.has(name) && !isOwnUserLink(layout.entries.get(name)));
    if (hidden) return false;
    if (swappedIn === layout.currentVersion) return true;
    const root = `${layout.target}/${layout.currentVersion}`;
    const version = await this.fs.lstat(root);
    if ((version.mode & 0o777) !== ownership.directoryMode || !belongsTo(version.gid, ownership)) return false;
    return treeMatchesPayload(this.fs, root, payload, ownership.group);
  }

  private remember(target: string, versionDir: string, digest: string | undefined): void {
    if (digest !== undefined) this.swapped.remember(target, versionDir, digest);
  }

  private async repair(layout: TargetLayout, names: readonly string[]): Promise<void> {
    await this.createMissingLinks(layout, names);
    await this.removeStaleUserLinks(layout, names);
    await this.removeHiddenEntries(layout, layout.currentVersion!);
  }

  /**
   * Steps 3-7 of wire.md 4; anything failing before the rename is undone. The version swapped in is
   * remembered unless the clean-up after the swap was left for a later write.
   */
  private async publish(
    layout: TargetLayout,
    names: readonly string[],
    payload: readonly SecretFile[],
    ownership: VolumeOwnership,
    digest: string | undefined,
  ): Promise<void> {
    const versionDir = await this.writeVersionMakingRoom(layout.target, payload, ownership);
    let createdLinks: string[] = [];
    try {
      createdLinks = await this.createMissingLinks(layout, names);
      await this.swapDataLink(layout, versionDir);
    } catch (error) {
      await this.undoPublish(layout.target, versionDir, createdLinks);
      throw error;
    }
    await this.replaceForeignEntries(layout, names);
    this.remember(layout.target, versionDir, digest);
    const clean = await bestEffort(async () => {
      await this.removeStaleUserLinks(layout, names);
      if (layout.currentVersion !== undefined) await this.retired.retire(layout.target, layout.currentVersion);
      await this.removeHiddenEntries(layout, versionDir);
    });
    if (!clean) this.swapped.forget(layout.target);
  }

  /** Space beats grace: when the volume is full, retired versions go early and the write is retried once. */
  private async writeVersionMakingRoom(target: string, payload: readonly SecretFile[], ownership: VolumeOwnership): Promise<string> {
    try {
      return await this.writeVersion(target, payload, ownership);
    } catch (error) {
      if (errorCode(error) !== 'ENOSPC' || !(await this.retired.releaseNow(target))) throw error;
      return this.writeVersion(target, payload, ownership);
    }
  }

  private async writeVersion(target: string, payload: readonly SecretFile[], ownership: VolumeOwnership): Promise<string> {
    const versionDir = await this.createVersionDir(target, ownership);
    const root = `${target}/${versionDir}`;
    try {
      await this.createDirectories(root, payload, ownership);
      await Promise.all(
        payload.map(async (file) => {
          const path = `${root}/${file.path}`;
          await this.fs.writeFile(path, file.contents, file.mode);
          await this.fs.chmod(path, file.mode); // the mode at creation is subject to umask
          if (ownership.group !== undefined) await this.fs.setGroup(path, ownership.group);
        }),
      );
    } catch (error) {
      await bestEffort(() => this.fs.removeTree(root));
      throw error;
    }
    return versionDir;
  }

  private async createVersionDir(target: string, ownership: VolumeOwnership): Promise<string> {
    for (let attempt = 1; ; attempt++) {
      const name = this.names.next();
      try {
        await this.makeDirectory(`${target}/${name}`, ownership);
        return name;
      } catch (error) {
        if (errorCode(error) !== 'EEXIST' || attempt >= NAME_ATTEMPTS) throw error;
      }
    }
  }

  /** Nested directories of the payload, parents before children. */
  private async createDirectories(root: string, payload: readonly SecretFile[], ownership: VolumeOwnership): Promise<void> {
    const dirs = new Set<string>();
    for (const file of payload) {
      const elements = file.path.split('/');
      for (let depth = 1; depth < elements.length; depth++) dirs.add(elements.slice(0, depth).join('/'));
    }
    const byDepth = [...dirs].sort((a, b) => a.split('/').length - b.split('/').length || (a < b ? -1 : 1));
    for (const dir of byDepth) await this.makeDirectory(`${root}/${dir}`, ownership);
  }

  private async makeDirectory(path: string, ownership: VolumeOwnership): Promise<void> {
    await this.fs.mkdir(path, { mode: ownership.directoryMode });
    await this.fs.chmod(path, ownership.directoryMode);
    if (ownership.group !== undefined) await this.fs.setGroup(path, ownership.group);
  }

  /** Step 4: `<name> -> ..data/<name>` for each payload name with no entry yet; returns the links made. */
  private async createMissingLinks(layout: TargetLayout, names: readonly string[]): Promise<string[]> {
    const missing = names.filter((name) => !layout.entries.has(name));
    await Promise.all(missing.map((name) => this.fs.symlink(userLinkValue(name), `${layout.target}/${name}`)));
    return missing;
  }

  /** Step 5, the atomic step: a rename replaces `..data` in one operation. */
  private async swapDataLink(layout: TargetLayout, versionDir: string): Promise<void> {
    const { target } = layout;
    if (layout.entries.has(DATA_TMP_LINK)) await this.fs.removeTree(`${target}/${DATA_TMP_LINK}`);
    const data = layout.entries.get(DATA_LINK);
    // A `..data` that is not a link cannot be replaced by rename; it holds no version anyway.
    if (data !== undefined && data.kind !== 'link') await this.fs.removeTree(`${target}/${DATA_LINK}`);
    await this.fs.symlink(versionDir, `${target}/${DATA_TMP_LINK}`);
    await this.fs.rename(`${target}/${DATA_TMP_LINK}`, `${target}/${DATA_LINK}`);
  }

  private async undoPublish(target: string, versionDir: string, createdLinks: readonly string[]): Promise<void> {
    await bestEffort(async () => {
      await Promise.all(createdLinks.map((name) => this.fs.unlink(`${target}/${name}`)));
      await this.fs.removeTree(`${target}/${DATA_TMP_LINK}`);
      await this.fs.removeTree(`${target}/${versionDir}`);
    });
  }

  /**
   * After the swap, so the new link resolves at once: a legacy file or a link elsewhere is replaced
   * by renaming a new link over it (readers see the old entry or the new link); a directory cannot
   * be renamed over, so it is removed first.
   */
  private async replaceForeignEntries(layout: TargetLayout, names: readonly string[]): Promise<void> {
    const { target } = layout;
    for (const name of names) {
      const entry = layout.entries.get(name);
      if (entry === undefined || isOwnUserLink(entry)) continue;
      if (entry.kind === 'directory') {
        await this.fs.removeTree(`${target}/${name}`);
        await this.fs.symlink(userLinkValue(name), `${target}/${name}`);
        continue;
      }
      await this.fs.removeTree(`${target}/${USER_LINK_TMP}`);
      await this.fs.symlink(userLinkValue(name), `${target}/${USER_LINK_TMP}`);
      await this.fs.rename(`${target}/${USER_LINK_TMP}`, `${target}/${name}`);
    }
  }

  /** Step 6: links this writer made for names the payload no longer has. */
  private async removeStaleUserLinks(layout: TargetLayout, names: readonly string[]): Promise<void> {
    const keep = new Set(names);
    const stale = [...layout.entries.values()].filter((entry) => isOwnUserLink(entry) && !keep.has(entry.name));
    await Promise.all(stale.map((entry) => this.fs.unlink(`${layout.target}/${entry.name}`)));
  }

  /**
   * The clean-ups: every hidden entry but `..data`, the version to keep, the version just retired
   * and retired versions still in their grace period.
   */
  private async removeHiddenEntries(layout: TargetLayout, keep: string): Promise<void> {
    const inGrace = this.retired.inGrace(layout.target);
    const spared = (name: string): boolean => name === DATA_LINK || name === keep || name === layout.currentVersion || inGrace(name);
    const doomed = [...layout.entries.keys()].filter((name) => isHiddenName(name) && !spared(name));
    await Promise.all(doomed.map((name) => this.retired.discard(layout.target, name)));
  }
}

/** Without a group of its own the volume keeps whatever group the driver's files get. */
function belongsTo(gid: number, ownership: VolumeOwnership): boolean {
  return ownership.group === undefined || gid === ownership.group;
}

/** False when the action failed: what it left is for the next write, which removes orphan hidden entries and dangling links of dropped names. */
async function bestEffort(action: () => Promise<unknown>): Promise<boolean> {
  try {
    await action();
    return true;
  } catch {
    return false;
  }
}
