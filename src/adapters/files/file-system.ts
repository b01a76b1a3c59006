import * as syncFs from 'node:fs';
import * as nodeFs from 'node:fs/promises';
import type { Volume } from 'memfs';
import type { VolumeUsage } from '../../domain/volume-capacity.js';

/** The part of a stat result the writer and the directory mounter look at. */
export interface FileStats {
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  readonly mode: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly gid: number;
}

/** One directory entry with the type the directory itself reports (no extra stat call). */
export interface DirEntry {
  readonly name: string;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/**
 * The narrow promise-based file system the atomic writer needs. Errors are Node-style: an Error
 * with a string `code` (ENOENT, EEXIST, ENOSPC ...).
 * Contract beyond node:fs semantics: `rename` of a symbolic link moves the link itself (never what
 * it points to) and replaces a non-directory at the destination atomically as far as callers of
 * this interface can observe; `removeTree` never follows symbolic links and ignores a missing path;
 * `writeFile` creates a new file only (fails with EEXIST, so it never writes through an existing
 * link); `mkdir` without `recursive` fails with EEXIST when the path exists.
 */
export interface FileSystem {
  lstat(path: string): Promise<FileStats>;
  stat(path: string): Promise<FileStats>;
  readlink(path: string): Promise<string>;
  /** Creates a link at `path` whose content is `linkValue` (the order of ln -s). */
  symlink(linkValue: string, path: string): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  mkdir(path: string, options: { readonly mode: number; readonly recursive?: boolean }): Promise<void>;
  writeFile(path: string, data: Uint8Array, mode: number): Promise<void>;
  chmod(path: string, mode: number): Promise<void>;
  /** Gives the path (never a link's destination) to a group, keeping its owner. */
  setGroup(path: string, gid: number): Promise<void>;
  /** The size and free space of the file system holding the path; undefined where there is no such notion. */
  usage(path: string): Promise<VolumeUsage | undefined>;
  readFile(path: string): Promise<Uint8Array>;
  readdir(path: string): Promise<DirEntry[]>;
  unlink(path: string): Promise<void>;
  removeTree(path: string): Promise<void>;
}

/** The errno code of a file-system error (ENOENT, EEXIST ...), if it has one. */
export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** chown(2)'s "leave the owner as it is". */
const KEEP_OWNER = -1;

function usageOf(stats: syncFs.StatsFs): VolumeUsage {
  return {
    bytes: stats.blocks * stats.bsize,
    freeBytes: stats.bavail * stats.bsize,
    inodes: stats.files,
    freeInodes: stats.ffree,
  };
}

/** The real file system through node:fs/promises. */
export function nodeFileSystem(): FileSystem {
  return {
    lstat: (path) => nodeFs.lstat(path),
    stat: (path) => nodeFs.stat(path),
    readlink: (path) => nodeFs.readlink(path),
    symlink: (linkValue, path) => nodeFs.symlink(linkValue, path),
    rename: (from, to) => nodeFs.rename(from, to),
    mkdir: async (path, { mode, recursive = false }) => {
      await nodeFs.mkdir(path, { mode, recursive });
    },
    writeFile: (path, data, mode) => nodeFs.writeFile(path, data, { mode, flag: 'wx' }),
    chmod: (path, mode) => nodeFs.chmod(path, mode),
    setGroup: (path, gid) => nodeFs.lchown(path, KEEP_OWNER, gid),
    usage: async (path) => usageOf(await nodeFs.statfs(path)),
    readFile: (path) => nodeFs.readFile(path),
    readdir: (path) => nodeFs.readdir(path, { withFileTypes: true }),
    unlink: (path) => nodeFs.unlink(path),
    // node's rm lstat()s each entry: links are unlinked, never followed.
    removeTree: (path) => nodeFs.rm(path, { recursive: true, force: true }),
  };
}

const OWNER_WRITE = 0o200;

/** memfs's Dirent names may be Buffers; the rest matches node's. */
type MemfsDirent = { name: unknown; isFile(): boolean; isDirectory(): boolean; isSymbolicLink(): boolean };

/**
 * The real file system through node's synchronous calls behind the same promise interface. Meant
 * for tmpfs targets: a syscall on a memory file system takes a few microseconds, a thread-pool
 * round trip of node:fs/promises several times that, and one write makes ~140 of them, so this
 * is ~4x faster (see bench/atomic-swap.ts) while blocking the event loop for about a millisecond
 * per small write. Do not use it where a call can hang (network or FUSE file systems).
 * That holds for `readlink` too, the one call of an unchanged rotation check (`holds` reads `..data`),
 * run for every mount every interval: ~1 µs synchronously against ~22 µs of CPU through the thread
 * pool (measured on tmpfs).
 */
export function blockingNodeFileSystem(): FileSystem {
  return {
    lstat: async (path) => syncFs.lstatSync(path),
    stat: async (path) => syncFs.statSync(path),
    readlink: async (path) => syncFs.readlinkSync(path),
    symlink: async (linkValue, path) => syncFs.symlinkSync(linkValue, path),
    rename: async (from, to) => syncFs.renameSync(from, to),
    mkdir: async (path, { mode, recursive = false }) => {
      syncFs.mkdirSync(path, { mode, recursive });
    },
    writeFile: async (path, data, mode) => syncFs.writeFileSync(path, data, { mode, flag: 'wx' }),
    chmod: async (path, mode) => syncFs.chmodSync(path, mode),
    setGroup: async (path, gid) => syncFs.lchownSync(path, KEEP_OWNER, gid),
    usage: async (path) => usageOf(syncFs.statfsSync(path)),
    readFile: async (path) => syncFs.readFileSync(path),
    readdir: async (path) => syncFs.readdirSync(path, { withFileTypes: true }),
    unlink: async (path) => syncFs.unlinkSync(path),
    removeTree: async (path) => removeTreeSync(path),
  };
}

/** rm -rf without following links; one readdir per directory, no stat per entry (unlike rmSync). */
function removeTreeSync(path: string): void {
  let stats;
  try {
    stats = syncFs.lstatSync(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') return;
    throw error;
  }
  if (!stats.isDirectory()) {
    syncFs.unlinkSync(path);
    return;
  }
  const removeEntries = (dir: string): void => {
    for (const entry of syncFs.readdirSync(dir, { withFileTypes: true })) {
      const child = `${dir}/${entry.name}`;
      if (entry.isDirectory()) removeEntries(child);
      else syncFs.unlinkSync(child);
    }
    syncFs.rmdirSync(dir);
  };
  removeEntries(path);
}

/**
 * An in-memory file system on a memfs Volume, with memfs's gaps closed: memfs `rename` of a
 * symbolic link moves the file the link points to (not the link), `rm` of a link to a directory
 * throws, and creating a file with a read-only mode fails to write its content. Link renames are done synchronously (read link, unlink destination, create link, unlink
 * source) so no other callback of this process observes an intermediate state.
 */
export function memfsFileSystem(volume: Volume): FileSystem {
  const fs = volume.promises;
  return {
    lstat: (path) => fs.lstat(path) as Promise<FileStats>,
    stat: (path) => fs.stat(path) as Promise<FileStats>,
    readlink: async (path) => String(await fs.readlink(path)),
    symlink: (linkValue, path) => fs.symlink(linkValue, path),
    rename: async (from, to) => renameInVolume(volume, from, to),
    mkdir: async (path, { mode, recursive = false }) => {
      await fs.mkdir(path, { mode, recursive });
    },
    writeFile: async (path, data, mode) => {
      // memfs checks the new file's own mode when it opens it for writing (root would not be refused).
      await fs.writeFile(path, data, { mode: mode | OWNER_WRITE, flag: 'wx' });
      if ((mode & OWNER_WRITE) === 0) await fs.chmod(path, mode);
    },
    chmod: (path, mode) => fs.chmod(path, mode),
    setGroup: async (path, gid) => volume.lchownSync(path, (await fs.lstat(path)).uid as number, gid),
    usage: async () => undefined,
    readFile: async (path) => (await fs.readFile(path)) as Uint8Array,
    readdir: async (path) => {
      const entries = (await fs.readdir(path, { withFileTypes: true })) as MemfsDirent[];
      return entries.map((entry) => ({
        name: String(entry.name),
        isFile: () => entry.isFile(),
        isDirectory: () => entry.isDirectory(),
        isSymbolicLink: () => entry.isSymbolicLink(),
      }));
    },
    unlink: (path) => fs.unlink(path),
    removeTree: async (path) => removeTreeInVolume(volume, path),
  };
}

function renameInVolume(volume: Volume, from: string, to: string): void {
  if (!volume.lstatSync(from).isSymbolicLink()) {
    volume.renameSync(from, to);
    return;
  }
  const linkValue = String(volume.readlinkSync(from));
  const existing = volume.lstatSync(to, { throwIfNoEntry: false });
  if (existing?.isDirectory()) throw fileSystemError('EISDIR', 'rename', to);
  if (existing !== undefined) volume.unlinkSync(to);
  volume.symlinkSync(linkValue, to);
  volume.unlinkSync(from);
}

function removeTreeInVolume(volume: Volume, path: string): void {
  const stats = volume.lstatSync(path, { throwIfNoEntry: false });
  if (stats === undefined) return;
  if (!stats.isDirectory()) {
    volume.unlinkSync(path);
    return;
  }
  for (const name of volume.readdirSync(path) as unknown[]) removeTreeInVolume(volume, `${path}/${String(name)}`);
  volume.rmdirSync(path);
}

function fileSystemError(code: string, syscall: string, path: string): NodeJS.ErrnoException {
  const error: NodeJS.ErrnoException = new Error(`${code}: ${syscall} '${path}'`);
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}
