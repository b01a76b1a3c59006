import { posix } from 'node:path';
import { DomainError } from '../../domain/errors.js';
import { errorCode, type FileStats, type FileSystem } from './file-system.js';
import { DATA_LINK, DATA_TMP_LINK, USER_LINK_TMP, isHiddenName } from './version-dir-name.js';

export type EntryKind = 'link' | 'file' | 'directory' | 'other';

/** One entry directly inside the target, as found before a write. */
export interface TargetEntry {
  readonly name: string;
  readonly kind: EntryKind;
  /** The content of a symbolic link; undefined for anything else. */
  readonly linkValue: string | undefined;
}

/** What a target directory holds before a write, read and refused-if-unsafe in one pass. */
export interface TargetLayout {
  readonly target: string;
  readonly entries: ReadonlyMap<string, TargetEntry>;
  /** The hidden directory `..data` names, when it is a real directory of the target. */
  readonly currentVersion: string | undefined;
}

/** The value a user-visible link must have: `<name> -> ..data/<name>`. */
export function userLinkValue(name: string): string {
  return `${DATA_LINK}/${name}`;
}

/** True when the entry is a link the writer made for `name` (it points into `..data`). */
export function isOwnUserLink(entry: TargetEntry | undefined): boolean {
  return entry?.kind === 'link' && entry.linkValue === userLinkValue(entry.name);
}

/**
 * Refuses a target that is a symbolic link, missing or not a directory (InvalidTargetPath): the
 * writer never follows a link at the target itself and never creates the target.
 */
export async function requireTargetDirectory(fs: FileSystem, target: string): Promise<void> {
  let stats;
  try {
    stats = await fs.lstat(target);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw new DomainError('InvalidTargetPath', `target "${target}" does not exist (is the volume mounted?)`);
    throw error;
  }
  if (stats.isSymbolicLink()) throw new DomainError('InvalidTargetPath', `target "${target}" is a symbolic link; refusing to follow it`);
  if (!stats.isDirectory()) throw new DomainError('InvalidTargetPath', `target "${target}" is not a directory`);
}

/**
 * Lists the target's entries and finds the current version. A `..data` that does not name a real
 * version directory of the target (dangling, not a link, leading elsewhere) means no current version.
 */
export async function inspectTarget(fs: FileSystem, target: string): Promise<TargetLayout> {
  const entries = new Map<string, TargetEntry>();
  const links: string[] = [];
  for (const dirent of await fs.readdir(target)) {
    const kind: EntryKind = dirent.isSymbolicLink() ? 'link' : dirent.isDirectory() ? 'directory' : dirent.isFile() ? 'file' : 'other';
    if (kind === 'link') links.push(dirent.name);
    else entries.set(dirent.name, { name: dirent.name, kind, linkValue: undefined });
  }
  await Promise.all(
    links.map(async (name) => entries.set(name, { name, kind: 'link', linkValue: await fs.readlink(`${target}/${name}`) })),
  );
  return { target, entries, currentVersion: currentVersionOf(entries) };
}

function currentVersionOf(entries: ReadonlyMap<string, TargetEntry>): string | undefined {
  const data = entries.get(DATA_LINK);
  if (data?.kind !== 'link') return undefined;
  const named = entries.get(data.linkValue!);
  return named?.kind === 'directory' && isVersionDirName(named.name) ? named.name : undefined;
}

/**
 * Refuses (InvalidPayloadPath) a `..data` link, or a link it names, that leads outside the target:
 * every user-visible path resolves through it, so reading or replacing it would reach elsewhere.
 */
export function refuseDataLinkOutside(layout: TargetLayout): void {
  const data = layout.entries.get(DATA_LINK);
  if (data?.kind !== 'link') return;
  refuseLinkOutside(layout.target, DATA_LINK, data.linkValue!);
  const named = layout.entries.get(data.linkValue!);
  if (named?.kind === 'link') refuseLinkOutside(layout.target, named.name, named.linkValue!);
}

/** Hidden names that may hold a version (not the writer's own links). */
function isVersionDirName(name: string): boolean {
  return isHiddenName(name) && !name.includes('/') && ![DATA_LINK, DATA_TMP_LINK, USER_LINK_TMP].includes(name);
}

/**
 * Refuses a payload whose paths would pass through a link already in the target that leads
 * outside it: a top-level entry, or a component inside a legacy (non-link) top-level directory.
 * The writer never writes through such links anyway (it writes only into a fresh directory and
 * replaces top-level entries); refusing makes a tampered target visible instead of quietly fixing it.
 */
export async function refuseLinksOutside(fs: FileSystem, layout: TargetLayout, paths: readonly string[]): Promise<void> {
  const checkedLinks = new Set<string>();
  for (const path of paths) {
    const elements = path.split('/');
    const top = layout.entries.get(elements[0]!);
    if (top?.kind === 'link' && !isOwnUserLink(top) && !checkedLinks.has(top.name)) {
      refuseLinkOutside(layout.target, top.name, top.linkValue!);
      checkedLinks.add(top.name);
    }
    if (top?.kind !== 'directory') continue;
    for (let depth = 2; depth <= elements.length; depth++) {
      const inner = elements.slice(0, depth).join('/');
      const stats = await lstatIfExists(fs, `${layout.target}/${inner}`);
      if (stats?.isSymbolicLink()) refuseLinkOutside(layout.target, inner, await fs.readlink(`${layout.target}/${inner}`));
      if (!stats?.isDirectory()) break; // missing, a file, or a link inside the target: nothing deeper to check
    }
  }
}

async function lstatIfExists(fs: FileSystem, path: string): Promise<FileStats | undefined> {
  try {
    return await fs.lstat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT' || errorCode(error) === 'ENOTDIR') return undefined;
    throw error;
  }
}

/** Lexical check: the link's value, resolved from the directory holding the link, stays inside the target. */
function refuseLinkOutside(target: string, linkPath: string, linkValue: string): void {
  const root = posix.resolve(target);
  const from = posix.dirname(`${root}/${linkPath}`);
  const resolved = posix.resolve(from, linkValue);
  if (resolved === root || resolved.startsWith(`${root}/`)) return;
  throw new DomainError(
    'InvalidPayloadPath',
    `refusing to write to "${target}": "${linkPath}" is a symbolic link to "${linkValue}", which leads outside the target`,
  );
}
