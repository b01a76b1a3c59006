import * as fs from 'node:fs/promises';
import { CommandShell } from './command-shell.js';

/** What the mounter asks of a stat result. */
export interface PathStats {
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
  /** The device holding the path: it differs from the parent's on a mount point. */
  readonly dev: number;
}

/**
 * The operating-system calls the tmpfs mounter makes. Command arguments are passed as words, never
 * interpreted; a failing command rejects with an Error whose message carries its output.
 */
export interface MountSystem {
  run(command: 'mount' | 'umount', args: readonly string[]): Promise<void>;
  lstat(path: string): Promise<PathStats>;
  stat(path: string): Promise<PathStats>;
  realpath(path: string): Promise<string>;
  /** mkdir -p with `mode` for each created directory (then chmod of `path`, since mkdir obeys umask). */
  makeDirectories(path: string, mode: number): Promise<void>;
  /** rm -r without following links; a missing path is fine. */
  removeTree(path: string): Promise<void>;
}

/** The real system: mount(8)/umount(8) through one long-lived shell, node:fs/promises. */
export function nodeMountSystem(): MountSystem {
  const shell = new CommandShell();
  return {
    run: (command, args) => shell.run(command, args),
    lstat: (path) => fs.lstat(path),
    stat: (path) => fs.stat(path),
    realpath: (path) => fs.realpath(path),
    makeDirectories: async (path, mode) => {
      await fs.mkdir(path, { recursive: true, mode });
      await fs.chmod(path, mode);
    },
    removeTree: (path) => fs.rm(path, { recursive: true, force: true }),
  };
}
