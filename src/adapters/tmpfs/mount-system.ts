import * as fs from 'node:fs/promises';
import { lstatSync, statfsSync, statSync } from 'node:fs';
import { bestMountCalls, type MountCalls } from './mount-calls.js';

/** What the mounter asks of a stat result. */
export interface PathStats {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  /** The device holding the path: it differs from the parent's on a mount point. */
  readonly dev: number;
  readonly mode: number;
  readonly gid: number;
}

/** A file system's size: bytes and inodes, each in total and free. */
export interface FileSystemSize {
  readonly bytes: number;
  readonly inodes: number;
  readonly freeBytes: number;
  readonly freeInodes: number;
}

/**
 * The operating-system calls the tmpfs mounter makes: mounting (see MountCalls) and a few file calls.
 * A failing call rejects with an Error carrying the errno `code` or the command's output.
 */
export interface MountSystem extends Omit<MountCalls, 'via'> {
  lstat(path: string): Promise<PathStats>;
  stat(path: string): Promise<PathStats>;
  statfs(path: string): Promise<FileSystemSize>;
  chmod(path: string, mode: number): Promise<void>;
  /** Gives the path to a group, keeping its owner. */
  setGroup(path: string, gid: number): Promise<void>;
  /** mkdir -p with `mode` for each created directory (then chmod of `path`, since mkdir obeys umask). */
  makeDirectories(path: string, mode: number): Promise<void>;
  /** rmdir(2): fails with ENOTEMPTY when the directory holds anything. */
  removeDirectory(path: string): Promise<void>;
  /** How many entries a directory holds. */
  countEntries(path: string): Promise<number>;
}

/** chown(2)'s "leave the owner as it is". */
const KEEP_OWNER = -1;

/**
 * The real system: mount(2)/umount2(2) through koffi when it loads, else mount(8)/umount(8) from one
 * long-lived shell (chosen at the first mount call, so nothing is loaded before one is needed);
 * node:fs/promises for the rest, except the stat calls every rotation check makes on the target and
 * its parent: those are synchronous, since on a local path a thread-pool round trip costs more than the call.
 */
export function nodeMountSystem(calls: () => Promise<MountCalls> = lazily(bestMountCalls)): MountSystem {
  return {
    mount: async (target, options) => (await calls()).mount(target, options),
    remount: async (target, options) => (await calls()).remount(target, options),
    unmount: async (target, lazy) => (await calls()).unmount(target, lazy),
    lstat: async (path) => lstatSync(path),
    stat: async (path) => statSync(path),
    statfs: async (path) => {
      const stats = statfsSync(path);
      return { bytes: stats.blocks * stats.bsize, freeBytes: stats.bavail * stats.bsize, inodes: stats.files, freeInodes: stats.ffree };
    },
    chmod: (path, mode) => fs.chmod(path, mode),
    setGroup: (path, gid) => fs.chown(path, KEEP_OWNER, gid),
    makeDirectories: async (path, mode) => {
      await fs.mkdir(path, { recursive: true, mode });
      await fs.chmod(path, mode);
    },
    removeDirectory: (path) => fs.rmdir(path),
    countEntries: async (path) => (await fs.readdir(path)).length,
  };
}

/** `load` called once, on first use. */
export function lazily<T>(load: () => Promise<T>): () => Promise<T> {
  let loaded: Promise<T> | undefined;
  return () => (loaded ??= load());
}
