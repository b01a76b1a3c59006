import { sameBytes, type SecretFile } from '../../domain/secret-payload.js';
import { errorCode, type FileSystem } from './file-system.js';

/** A regular file found in a version directory, without its bytes. */
export interface TreeFile {
  /** Relative to the version directory, `/`-separated. */
  readonly path: string;
  readonly absolutePath: string;
  readonly mode: number;
  readonly size: number;
  readonly gid: number;
}

/** The regular files under a directory; `foreign` when it also holds links or special files. */
export interface TreeListing {
  readonly files: TreeFile[];
  readonly foreign: boolean;
}

/**
 * Lists the regular files under `root` without following links: the writer never creates links
 * inside a version directory, so any link there is foreign and is neither followed nor returned.
 * Paths are relative to `root`, under `prefix` when one is given.
 */
export async function listTree(fs: FileSystem, root: string, prefix = ''): Promise<TreeListing> {
  const files: TreeFile[] = [];
  let foreign = false;
  const visit = async (dir: string, prefix: string): Promise<void> => {
    const entries = await fs.readdir(dir);
    await Promise.all(
      entries.map(async (entry) => {
        const path = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
        const absolutePath = `${dir}/${entry.name}`;
        if (entry.isDirectory()) return visit(absolutePath, path);
        if (!entry.isFile()) {
          foreign = true;
          return;
        }
        const stats = await fs.lstat(absolutePath);
        files.push({ path, absolutePath, mode: stats.mode & 0o777, size: stats.size, gid: stats.gid });
      }),
    );
  };
  await visit(root, prefix);
  files.sort((a, b) => comparePaths(a.path, b.path));
  return { files, foreign };
}

/** The regular files at `absolutePath`: itself when it is a file, its tree when a directory, else none. */
export async function listPath(fs: FileSystem, absolutePath: string, path: string): Promise<TreeFile[]> {
  let stats;
  try {
    stats = await fs.lstat(absolutePath);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return [];
    throw error;
  }
  if (stats.isDirectory()) return (await listTree(fs, absolutePath, path)).files;
  return stats.isFile() ? [{ path, absolutePath, mode: stats.mode & 0o777, size: stats.size, gid: stats.gid }] : [];
}

/** Reads the listed files' bytes. */
export function readFiles(fs: FileSystem, files: readonly TreeFile[]): Promise<SecretFile[]> {
  return Promise.all(
    files.map(async (file) => ({ path: file.path, mode: file.mode, contents: await fs.readFile(file.absolutePath) })),
  );
}

/**
 * True when the directory holds exactly the payload: same paths, modes and bytes (and, given a group,
 * every file in it), nothing else. Sizes are compared first so a changed payload is usually detected
 * without reading a byte.
 */
export async function treeMatchesPayload(fs: FileSystem, root: string, payload: readonly SecretFile[], group?: number): Promise<boolean> {
  const listing = await listTree(fs, root);
  if (listing.foreign || listing.files.length !== payload.length) return false;
  const wanted = new Map(payload.map((file) => [file.path, file]));
  const shapeMatches = listing.files.every((file) => {
    const other = wanted.get(file.path);
    return other !== undefined && other.mode === file.mode && other.contents.length === file.size && (group === undefined || file.gid === group);
  });
  if (!shapeMatches) return false;
  const current = await readFiles(fs, listing.files);
  return current.every((file) => sameBytes(file.contents, wanted.get(file.path)!.contents));
}

/** Byte-wise order of `/`-separated paths, the order `validatePayload` uses. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
